"""What every ``genurl`` command shares: the typer app, error handling, progress bars, options.

Each command module (``cli/main.py`` for graphs, ``cli/dr.py``, ``cli/kd.py``, ...) registers its
commands on :data:`app`; bad input ends with one line on stderr and exit status 2."""

from __future__ import annotations

import errno
import functools
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from genurl_graph.errors import InputError

# help text is plain: [weight] stays as written
app = typer.Typer(
    help="GenURL: graph embedding, dimension reduction, distillation and self-supervised learning "
    "on one engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
eval_app = typer.Typer(
    help="Evaluate embeddings: node classification or link prediction.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(eval_app, name="eval")
out = Console()
err = Console(stderr=True)


def _user_errors(fn):
    """Bad input -> 'error: ...' on stderr, exit status 2; anything else is a bug (traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2)
        except OSError as exc:  # the machine, not the input: a full disk, a read-only file system
            if exc.errno not in _MACHINE_ERRNOS:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            err.print(
                f"[red]error:[/red] {escape(where + (exc.strerror or str(exc)))} (no output was "
                f"changed)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1)

    return wrapper


_MACHINE_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
    errno.EFBIG,
}


@contextmanager
def _progress_bar(label: str, quiet: bool):
    """A progress callback (epoch, epochs, loss) drawing a bar on stderr, or None when quiet."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None, loss="-")

        def update(epoch, epochs, loss):
            bar.update(task, completed=epoch, total=epochs, loss=f"{loss:.4f}")

        yield update


def _check_sizes(dim, epochs, refine: int = 0) -> None:
    """Refuse bad --dim/--epochs/--refine before any file is read."""
    if dim is not None and dim < 1:
        raise InputError(f"--dim must be at least 1, got {dim}")
    if epochs is not None and epochs < 0:
        raise InputError(f"--epochs must be >= 0, got {epochs}")
    if refine < 0:
        raise InputError(f"--refine must be >= 0, got {refine}")


def _check_run(seed=None, device=None) -> None:
    """Refuse a bad --seed or --device (unknown, or CUDA where torch sees none) before any work."""
    from genurl_graph.checks import check_device, check_seed

    if seed is not None:
        check_seed(seed)
    if device is not None:
        check_device(device)


def _row_labels(labels, n: int, what: str = "rows"):
    """One class label for each of ``n`` rows from a --labels file, or None without one."""
    if labels is None:
        return None
    from genurl_graph import io as gio

    lab = gio.read_labels(labels, None, n)
    if lab.multilabel or len(lab.rows) != n:
        raise InputError(f"--labels needs one label for each of the {n} {what}", labels)
    return lab.classes[lab.y]


def _check_outputs(output, plot=None, save=None, json_out=None) -> None:
    """Refuse output paths of the wrong kind (or in missing folders) before any work."""
    from genurl_graph import io as gio

    gio.check_output_path(output)
    for path, kinds in ((plot, (".png",)), (save, (".pt",)), (json_out, (".json",))):
        if path is not None:
            gio.check_output_path(path, kinds)


def _model(dim, epochs, seed, device, encoder, progress):
    from genurl_graph import GenURL

    return GenURL(
        task="ge",
        dim=dim,
        epochs=epochs,
        encoder=encoder,
        random_state=seed,
        device=device,
        progress=progress,
    )


def _print_metrics(title: str, result: dict) -> None:
    out.print(title, highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for name, v in result["metrics"].items():
        table.add_row(name, f"{100 * v['mean']:.2f}", f"{100 * v['std']:.2f}")
    out.print(table)


def _write_json(path: Optional[Path], result: dict) -> None:
    if path is not None:
        from genurl_graph.io import write_json

        write_json(path, result)


DIM = typer.Option(
    None,
    "--dim",
    help="Embedding dimension; default chosen from the data: 512 with features, 128 without.",
)
EPOCHS = typer.Option(
    None,
    "--epochs",
    help="Training epochs, at most (stops early on a loss plateau); "
    "default chosen from the data: 50 with features; without, 0 (2 above 50k nodes, in few "
    "large batches): the closed-form start (spectral factorisation + propagation) is the "
    "embedding, and N trains it N epochs.",
)
SEED = typer.Option(0, "--seed", help="Random seed: the same seed gives the same embedding on CPU.")
DEVICE = typer.Option("cpu", "--device", help="Torch device: cpu, cuda or cuda:N.")
ENCODER = typer.Option(
    "auto",
    "--encoder",
    help="Encoder: auto (ppr with features, table without), ppr, sgc, mlp, gcn, table.",
)
FEATURES = typer.Option(
    None,
    "--features",
    help="Node features: .npy/.npz (rows in --nodes order, or "
    "integer ids 0..rows-1) or .csv (node id first column).",
)
NODES = typer.Option(
    None,
    "--nodes",
    help="Node list, one id a line: fixes the row order; isolated nodes listed keep a row.",
)
DIRECTED = typer.Option(False, "--directed", help="Read edges as directed (default: undirected).")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
JSON = typer.Option(None, "--json", help="Also write the results to this JSON file.")
