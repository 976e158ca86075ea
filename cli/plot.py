"""``genurl plot``: a PNG picture of any embedding (from ``embed``, ``reduce``, ``ssl``,
``distill``,
``demo``), laid out in 2-D by the project's DR and coloured by label."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .common import QUIET, SEED, _progress_bar, _user_errors, app, out


def _pixels(size: str) -> tuple[int, int]:
    from genurl_graph.errors import InputError

    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise InputError(
            f"--size must be WIDTHxHEIGHT in pixels (e.g. 840x840), got {size!r}"
        ) from None
    return w, h


def row_labels(labels: Path, ids, n: int) -> np.ndarray:
    """One label (or None) per embedding row from a labels file: 'node label' lines matched to the
    embedding's node ids, or one label per row (negative: none)."""
    from genurl_graph import io as gio
    from genurl_graph.errors import InputError

    lab = gio.read_labels(labels, ids, n)
    if lab.multilabel:
        raise InputError(
            "a node has several labels: a plot colours each point by one label", labels
        )
    values = np.full(n, None, dtype=object)
    values[lab.rows] = lab.classes[lab.y]
    return values


def draw(
    Z,
    labels,
    output: Path,
    name: str,
    size: str = "840x840",
    kind: str = "auto",
    seed: int = 0,
    epochs=None,
    quiet: bool = True,
    title=None,
):
    """Plot ``Z`` to ``output`` and print where it went (the demo and ``genurl plot``)."""
    from genurl_graph.eval.plot import plot

    start = time.perf_counter()
    with _progress_bar("2-D layout", quiet or Z.shape[1] <= 2) as bar:
        res = plot(
            Z,
            output,
            labels,
            title=title,
            pixels=_pixels(size),
            kind=kind,
            seed=seed,
            name=name,
            epochs=epochs,
            progress=bar,
        )
    out.print(
        f"plot: {res.path} ({len(Z)} points, {res.kind}, {time.perf_counter() - start:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )
    return res


@app.command("plot")
@_user_errors
def plot_command(
    embeddings: Path = typer.Argument(
        ...,
        help="Embedding: .npy (with .nodes.txt beside it, if any), .csv or "
        ".parquet, one row per node or point.",
    ),
    output: Path = typer.Option(..., "-o", "--output", help="The picture: a .png file."),
    labels: Optional[Path] = typer.Option(
        None,
        "--labels",
        help="Colour by label: 'node label' lines (by the "
        "embedding's node ids) or one label per row; negative: no label.",
    ),
    labels_as: str = typer.Option(
        "auto",
        "--labels-as",
        help="auto, classes (a colour each, legend up to 20) "
        "or numbers (a colour bar); auto: numbers when not whole or over 20 values.",
    ),
    size: str = typer.Option("840x840", "--size", help="Picture size in pixels, WIDTHxHEIGHT."),
    title: Optional[str] = typer.Option(
        None, "--title", help="Title (default: what is shown: file, points, dimensions, labels)."
    ),
    epochs: Optional[int] = typer.Option(
        None, "--epochs", help="Epochs of the 2-D layout (default: DR's own)."
    ),
    seed: int = SEED,
    quiet: bool = QUIET,
):
    """Lay an embedding out in 2-D (GenURL DR; a 2-column one as it is) and draw it as a PNG."""
    from genurl_graph import io as gio
    from genurl_graph.eval.plot import _check_png

    from .common import _check_sizes

    _check_png(output)
    _check_sizes(None, epochs)
    _pixels(size)
    Z, ids = gio.read_embeddings(embeddings)
    y = None if labels is None else row_labels(labels, ids, len(Z))
    draw(Z, y, output, Path(embeddings).name, size, labels_as, seed, epochs, quiet, title)
