"""``genurl apply``: embed new data with a saved model, whatever its task.

The task says what it reads (``INPUTS_KIND``: rows with ids, a matrix, images); the model's
``transform`` does the rest (:mod:`genurl_graph.tasks.base`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .common import DEVICE, _check_run, _user_errors, app, err


@app.command()
@_user_errors
def apply(
    model_file: Path = typer.Argument(
        ...,
        help="A model saved by `genurl distill`, `genurl reduce --save`, "
        "`genurl ssl --save` (or GenURL.save).",
    ),
    inputs: Path = typer.Argument(
        ...,
        help="New rows: .npy/.npz (ids from .nodes.txt beside it, else "
        "0..n-1) or .csv (row id first column; for a reduce model numbers only, as "
        "reduce reads them); images (.npy/.npz) for an ssl model.",
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Embeddings: .npy (+ .nodes.txt), .csv or .parquet."
    ),
    graph: Optional[Path] = typer.Option(
        None,
        "--graph",
        help="Edge list over the new rows (as for `genurl "
        "embed`): needed by graph encoders (a gcn student, a ppr/sgc/gcn "
        "graph embedding), unused by the others.",
    ),
    device: str = DEVICE,
):
    """Embed new rows with a saved model (an mlp student needs no graph and no teacher)."""
    from genurl_graph.errors import InputError
    from genurl_graph.io import check_output_path, existing_file, read_inputs, write_embeddings

    check_output_path(output)
    _check_run(None, device)
    existing_file(model_file)  # refused before torch is imported
    existing_file(inputs)
    from genurl_graph import GenURL, read_graph

    model = GenURL.load(model_file, device=device)
    start = time.perf_counter()
    X, ids = read_inputs(inputs, getattr(model._task(), "INPUTS_KIND", "rows"))
    g = None if graph is None else read_graph(graph, nodes=ids)
    try:
        Z = model.transform(X) if g is None else model.transform(X, graph=g)
    except InputError as exc:  # the rows do not fit the model: say which file
        if exc.path is not None:
            raise
        raise InputError(exc.what, inputs) from None
    written = write_embeddings(output, Z, ids)
    err.print(
        f"{X.shape[0]} rows -> {Z.shape[1]}-d in {time.perf_counter() - start:.2f} s -> "
        + ", ".join(map(str, written)),
        highlight=False,
    )
