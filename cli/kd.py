"""``genurl distill``: knowledge distillation as a graph.

It builds P_X from the kNN graph of a teacher's embeddings, trains a student encoder over its
own inputs, and saves it; ``genurl apply`` (:mod:`cli.apply`) embeds new rows with it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .common import (
    DEVICE,
    QUIET,
    SEED,
    _check_run,
    _check_sizes,
    _progress_bar,
    _user_errors,
    app,
    err,
)


MODEL_OUT = typer.Option(
    ...,
    "-o",
    "--output",
    help="Where to save the fitted student: a .pt file that `genurl apply` and GenURL.load read.",
)
GRAPH = typer.Option(
    None,
    "--graph",
    help="Edge list over the input rows (as for `genurl embed`); needed by "
    "the gcn student, unused by mlp.",
)


@app.command()
@_user_errors
def distill(
    teacher: Path = typer.Option(
        ...,
        "--teacher",
        help="Teacher embeddings, one row per node: .npy (ids in "
        ".nodes.txt beside it, if any), .csv or .parquet (id first column).",
    ),
    inputs: Path = typer.Option(
        ...,
        "--inputs",
        help="The student's inputs: .npy/.npz (rows in the teacher's "
        "order) or .csv (row id first column, matched to the teacher's ids).",
    ),
    output: Path = MODEL_OUT,
    graph: Optional[Path] = GRAPH,
    student: str = typer.Option(
        "mlp",
        "--student",
        help="Student encoder: mlp (features only; no graph at inference) or gcn (needs --graph).",
    ),
    dim: Optional[int] = typer.Option(
        None, "--dim", help="Student embedding dimension (default 128)."
    ),
    epochs: Optional[int] = typer.Option(
        None,
        "--epochs",
        help="Training epochs, at most (default 150; stops early on a loss plateau).",
    ),
    k: Optional[int] = typer.Option(
        None, "--k", help="Teacher neighbours per row that carry P_X (default 15)."
    ),
    hidden: int = typer.Option(512, "--hidden", help="Hidden width of the student."),
    norm: str = typer.Option(
        "standard",
        "--norm",
        help="How the mlp student scales its inputs: standard "
        "(centred, one scale), l1 (rows to unit L1 norm) or none; saved with the model.",
    ),
    dropout: Optional[float] = typer.Option(
        None,
        "--dropout",
        help="Input dropout of the mlp student while "
        "training (default 0.5: it helps on rows never seen).",
    ),
    metric: str = typer.Option(
        "cosine", "--metric", help="Distance between teacher rows: cosine or euclidean."
    ),
    embed_out: Optional[Path] = typer.Option(
        None,
        "--embed-out",
        help="Also write the student's embedding of "
        "the inputs: .npy (+ .nodes.txt), .csv or .parquet.",
    ),
    seed: int = SEED,
    device: str = DEVICE,
    quiet: bool = QUIET,
):
    """Teach a student encoder the teacher's neighbourhoods (no labels) and save it."""
    from genurl_graph.errors import InputError
    from genurl_graph.io import check_output_path, read_embeddings, read_rows, write_embeddings

    # genurl_graph.tasks.kd.STUDENTS, without importing torch to check a flag
    STUDENTS = (
        "mlp",
        "gcn",
    )

    check_output_path(output, (".pt",))
    if embed_out is not None:
        check_output_path(embed_out)
    _check_sizes(dim, epochs)
    _check_run(seed, device)
    if hidden < 1:
        raise InputError(f"--hidden must be at least 1, got {hidden}")
    if k is not None and k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    if student not in STUDENTS:
        raise InputError(f"unknown student {student!r}: choose from {', '.join(STUDENTS)}")
    if dropout is not None and not 0 <= dropout < 1:
        raise InputError(f"--dropout must be in [0, 1), got {dropout}")
    if metric not in ("cosine", "euclidean"):
        raise InputError(f"unknown metric {metric!r}: cosine or euclidean")
    start = time.perf_counter()
    T, ids = read_embeddings(teacher)
    X, ids = read_rows(inputs, ids)
    from genurl_graph import GenURL, read_graph

    g = None if graph is None else read_graph(graph, nodes=ids)

    with _progress_bar("distilling", quiet) as bar:
        model = GenURL(
            task="kd",
            student=student,
            dim=dim,
            epochs=epochs,
            k=k,
            hidden=hidden,
            metric=metric,
            random_state=seed,
            device=device,
            progress=bar,
        )
        model.fit(X, teacher=T, graph=g, norm=norm, dropout=dropout)
    model.save(output)
    written = [output]
    if embed_out is not None:
        written += write_embeddings(embed_out, model.embeddings_, ids)
    err.print(
        f"{X.shape[0]} rows, teacher {T.shape[1]}-d -> {student} student "
        f"{model.embeddings_.shape[1]}-d, "
        f"{len(model.history_.losses)} epochs, {time.perf_counter() - start:.1f} s -> "
        + ", ".join(map(str, written)),
        highlight=False,
    )
