"""OGB in ``genurl``: ``genurl eval ogb`` (an embedding on OGB's split, by OGB's Evaluator) and the
body of ``genurl demo --dataset ogbn-.../ogbl-... --root DIR``. Nothing is downloaded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from .common import JSON, _print_metrics, _progress_bar, _user_errors, _write_json, err, eval_app

ROOT = typer.Option(
    None,
    "--root",
    help="Folder holding OGB's data sets (ROOT/ogbn_arxiv/...); default "
    "$GENURL_DATA or datasets/. Nothing is downloaded.",
)


def _print_ogb(result: dict, took: float | None = None) -> None:
    extra = f"C={result['C']:g}" if "C" in result else f"score {result['score']}"
    timing = "" if took is None else f", {took:.1f} s to embed"
    _print_metrics(
        f"{result['dataset']}: {result['evaluator']}, official split, {extra}{timing}", result
    )


def _rows_by_node_id(Z: np.ndarray, ids, n: int, path: Path) -> np.ndarray:
    """The embedding's rows in OGB node-id order (ids 0..n-1 from the .nodes.txt / first column)."""
    from genurl_graph.errors import InputError

    if len(Z) != n:
        raise InputError(f"{len(Z)} embedding rows, but the data set has {n} nodes", path)
    if ids is None:
        return Z
    try:
        ids = np.asarray(ids).astype(np.int64)
    except (TypeError, ValueError):
        raise InputError(
            "OGB node ids are integers 0..n-1; the embedding's ids are not", path
        ) from None
    if not np.array_equal(np.sort(ids), np.arange(n)):
        raise InputError(f"the embedding's node ids must be 0..{n - 1}, each once", path)
    return Z[np.argsort(ids)]


@eval_app.command("ogb")
@_user_errors
def eval_ogb(
    embeddings: Path = typer.Argument(
        ...,
        help="Embedding of the data set's nodes (.npy with .nodes.txt, .csv, "
        ".parquet); rows by OGB node id.",
    ),
    dataset: str = typer.Option(
        ...,
        "--dataset",
        help="OGB data set: ogbn-arxiv, ogbn-products, ogbn-proteins, "
        "ogbl-collab, ogbl-ddi, ogbl-ppa, ogbl-citation2, ...",
    ),
    root: Optional[Path] = ROOT,
    json_out: Optional[Path] = JSON,
):
    """OGB's official split and Evaluator: a probe (node sets) or pair scores (link sets)."""
    from genurl_graph import datasets
    from genurl_graph import io as gio

    if json_out is not None:
        gio.check_output_path(json_out, (".json",))
    gio.existing_file(embeddings)
    datasets.ogb_meta(dataset)  # imports ogb, hence torch
    Z, ids = gio.read_embeddings(embeddings)
    data = datasets.load(dataset, root)
    from genurl_graph.eval.ogb import ogb_evaluate

    result = ogb_evaluate(_rows_by_node_id(Z, ids, data.graph.num_nodes, embeddings), data)
    result["embeddings"] = str(embeddings)
    _print_ogb(result)
    _write_json(json_out, result)


def ogb_demo(dataset: str, root, epochs, seed: int, quiet: bool, output=None, plot=None) -> dict:
    """Load an OGB set, embed it with GenURL's defaults, evaluate with OGB's Evaluator; optionally
    write the embedding and a picture of it."""
    from genurl_graph import datasets

    data = datasets.load(dataset, root)
    from genurl_graph import GenURL
    from genurl_graph.eval.ogb import ogb_evaluate

    err.print(
        f"{dataset}: {data.graph.num_nodes} nodes, {data.graph.num_edges} stored edges"
        + ("" if data.features is None else f", {data.features.shape[1]} features"),
        highlight=False,
    )
    start = time.perf_counter()
    with _progress_bar(f"{dataset}: embedding", quiet) as bar:
        model = GenURL(epochs=epochs, random_state=seed, progress=bar).fit(data.graph)
    took = time.perf_counter() - start
    result = ogb_evaluate(model.embeddings_, data)
    _print_ogb(result, took)
    finish_demo(dataset, model.embeddings_, data, output, plot, seed, quiet)
    return result


def finish_demo(
    name: str, Z, data, output=None, plot=None, seed: int = 0, quiet: bool = True
) -> None:
    """The demo's optional outputs: the embedding file and its picture coloured by class."""
    from genurl_graph.io import write_embeddings

    from .common import out
    from .plot import draw

    if output is not None:
        written = write_embeddings(output, Z, data.graph.ids)
        out.print("embedding: " + ", ".join(map(str, written)), highlight=False, soft_wrap=True)
    if plot is not None:
        labels = None
        if data.labels is not None and np.asarray(data.labels).ndim == 1:
            labels = np.where(data.labels >= 0, data.labels, None).astype(object)
        draw(Z, labels, plot, f"{name}, GenURL embedding", seed=seed, quiet=quiet)
