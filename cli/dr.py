"""``genurl reduce``: dimension reduction of a data matrix with GenURL (kNN graph -> P_X ->
layout)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .common import (
    DEVICE,
    JSON,
    QUIET,
    SEED,
    _check_outputs,
    _check_run,
    _check_sizes,
    _progress_bar,
    _row_labels,
    _user_errors,
    _write_json,
    app,
    err,
    out,
)


@app.command()
@_user_errors
def reduce(
    data: Path = typer.Argument(
        ...,
        help="Data matrix, one point a row: .npy, .npz (array or scipy sparse) "
        "or .csv/.tsv/.txt of numbers (one header line allowed).",
    ),
    output: Path = typer.Option(..., "-o", "--output", help="Embedding: .npy, .csv or .parquet."),
    dim: int = typer.Option(2, "--dim", help="Output dimension."),
    labels: Optional[Path] = typer.Option(
        None,
        "--labels",
        help="One label per row (same order as the data): "
        "prints the DR measures and colours the plot.",
    ),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="Write a PNG scatter of the first two columns."
    ),
    parametric: bool = typer.Option(
        False,
        "--parametric",
        help="Train an MLP that can transform new points "
        "(slower); default: a free layout (transductive).",
    ),
    metric: str = typer.Option(
        "auto",
        "--metric",
        help="kNN metric: euclidean, cosine, or auto (cosine for sparse data, else euclidean).",
    ),
    k: Optional[int] = typer.Option(
        None,
        "--k",
        help="Neighbours per point in the kNN graph (default 15; 10 with --parametric).",
    ),
    epochs: Optional[int] = typer.Option(
        None, "--epochs", help="Training epochs (default 1000; 200 above 10,000 points)."
    ),
    refine: int = typer.Option(
        0,
        "--refine",
        help="Every N epochs, join P_X with the kNN graph of the current "
        "layout (dynamic similarity); 0: off.",
    ),
    save: Optional[Path] = typer.Option(
        None,
        "--save",
        help="With --parametric: also save the fitted model (.pt) for `genurl apply`.",
    ),
    seed: int = SEED,
    device: str = DEVICE,
    quiet: bool = QUIET,
    json_out: Optional[Path] = JSON,
):
    """Reduce a data matrix to --dim columns: kNN graph, P_X, GenURL layout (free or parametric)."""
    from genurl_graph import io as gio
    from genurl_graph.errors import InputError

    if save is not None and not parametric:
        raise InputError("--save needs --parametric: a free layout cannot embed new points")
    _check_outputs(output, plot, save, json_out)
    if metric not in ("auto", "euclidean", "cosine"):
        raise InputError(f"--metric must be auto, euclidean or cosine, got {metric!r}")
    _check_sizes(dim, epochs, refine)
    _check_run(seed, device)
    if k is not None and k < 1:
        raise InputError(f"--k must be at least 1, got {k}")
    start = time.perf_counter()
    X = gio.read_matrix(data)
    y = _row_labels(labels, X.shape[0], "rows")
    from genurl_graph import GenURL  # torch: imported once the input is known to be good

    with _progress_bar("reducing", quiet) as bar:
        model = GenURL(
            task="dr",
            dim=dim,
            parametric=parametric,
            metric=metric,
            k=k,
            epochs=epochs,
            refine=refine,
            random_state=seed,
            device=device,
            progress=bar,
        ).fit(X)
    Z = model.embeddings_
    written = gio.write_embeddings(output, Z, np.arange(len(Z)))
    if save is not None:
        model.save(save)
        written.append(save)
    took = time.perf_counter() - start
    result = {"n": int(X.shape[0]), "features": int(X.shape[1]), "dim": dim, "seconds": took}
    if y is not None:
        from genurl_graph.eval import dr_metrics

        result["metrics"] = dr_metrics(X, Z, y, k=10, seed=seed)
        out.print(
            "DR measures at k=10: "
            + ", ".join(f"{name} {v:.4f}" for name, v in result["metrics"].items()),
            highlight=False,
            soft_wrap=True,
        )
    if plot is not None:
        from genurl_graph.eval.plot import scatter

        written.append(scatter(Z, plot, y, title=f"{Path(data).name}: GenURL {X.shape[0]} points"))
    _write_json(json_out, result)
    err.print(
        f"{X.shape[0]} points x {X.shape[1]} features -> {dim}, {model.encoder_name_} encoder, "
        f"{len(model.history_.losses)} epochs, {took:.1f} s -> " + ", ".join(map(str, written)),
        highlight=False,
    )
