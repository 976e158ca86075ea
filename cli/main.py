"""``genurl``: embed edge lists, evaluate embeddings, run the demo (graph commands); the other
tasks' commands live in their own modules, imported at the end. Every command is a thin call into
the library; bad input ends with one line on stderr and exit status 2."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from .common import (
    DEVICE,
    DIM,
    DIRECTED,
    ENCODER,
    EPOCHS,
    FEATURES,
    JSON,
    NODES,
    QUIET,
    SEED,
    _check_run,
    _check_sizes,
    _model,
    _print_metrics,
    _progress_bar,
    _user_errors,
    _write_json,
    app,
    err,
    eval_app,
)


@app.command()
@_user_errors
def embed(
    edges: Path = typer.Argument(
        ...,
        help="Edge list: 'source target [weight]' per line; space, tab "
        "or comma separated; '#'/'%' comments; integer or string ids.",
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Output: .npy (ids in .nodes.txt beside it), .csv or .parquet."
    ),
    nodes: Optional[Path] = NODES,
    directed: bool = DIRECTED,
    features: Optional[Path] = FEATURES,
    dim: Optional[int] = DIM,
    epochs: Optional[int] = EPOCHS,
    seed: int = SEED,
    device: str = DEVICE,
    encoder: str = ENCODER,
    quiet: bool = QUIET,
):
    """Embed the nodes of an edge list with GenURL and write one row per node."""
    from genurl_graph import read_graph
    from genurl_graph.io import check_output_path, write_embeddings

    check_output_path(output)
    _check_sizes(dim, epochs)
    _check_run(seed, device)
    start = time.perf_counter()
    graph = read_graph(edges, nodes=nodes, directed=directed, features=features)
    with _progress_bar("embedding", quiet) as bar:
        model = _model(dim, epochs, seed, device, encoder, bar).fit(graph)
    written = write_embeddings(output, model.embeddings_, graph.ids)
    err.print(
        f"{graph.num_nodes} nodes, {graph.num_edges} stored edges, {model.encoder_name_} encoder, "
        f"{len(model.history_.losses)} epochs, {time.perf_counter() - start:.1f} s -> "
        + ", ".join(map(str, written)),
        highlight=False,
    )


@eval_app.command("nodes")
@_user_errors
def eval_nodes(
    embeddings: Path = typer.Argument(
        ..., help="Embeddings (.npy with .nodes.txt beside it, .csv, .parquet)."
    ),
    labels: Path = typer.Argument(
        ...,
        help="Labels: 'node label' lines (a node on several lines is "
        "multi-label), or one label per embedding row.",
    ),
    split: Optional[Path] = typer.Option(
        None,
        "--split",
        help="Split JSON {train,val,test: [node ids]}; "
        "default: split.json beside the labels file if present, else random splits.",
    ),
    random_splits: bool = typer.Option(False, "--random-splits", help="Ignore any public split."),
    seeds: int = typer.Option(5, "--seeds", help="Random splits (seeds) to average over."),
    train_ratio: float = typer.Option(
        0.5, "--train-ratio", help="Training fraction of random splits."
    ),
    json_out: Optional[Path] = JSON,
):
    """Node classification: a logistic-regression probe on frozen embeddings."""
    from genurl_graph.eval.tasks import node_classification

    if json_out is not None:
        from genurl_graph.io import check_output_path

        check_output_path(json_out, (".json",))
    result = node_classification(embeddings, labels, split, random_splits, seeds, train_ratio)
    _print_metrics(
        f"node classification ({result['task']}, split {result['split']}, C={result['C']:g})",
        result,
    )
    _write_json(json_out, result)


@eval_app.command("links")
@_user_errors
def eval_links(
    edges: Path = typer.Argument(..., help="Edge list (as for `genurl embed`)."),
    nodes: Optional[Path] = NODES,
    directed: bool = DIRECTED,
    features: Optional[Path] = FEATURES,
    dim: Optional[int] = DIM,
    epochs: Optional[int] = EPOCHS,
    seed: int = SEED,
    device: str = DEVICE,
    encoder: str = ENCODER,
    seeds: int = typer.Option(1, "--seeds", help="Edge splits (seeds) to average over."),
    val: float = typer.Option(0.05, "--val", help="Fraction of edges held out for validation."),
    test: float = typer.Option(0.10, "--test", help="Fraction of edges held out for test."),
    json_out: Optional[Path] = JSON,
    quiet: bool = QUIET,
):
    """Link prediction: hold out edges, embed the rest, report AUC, AP and Hits@K."""
    from genurl_graph import read_graph
    from genurl_graph.eval import evaluate_links

    if json_out is not None:
        from genurl_graph.io import check_output_path

        check_output_path(json_out, (".json",))
    _check_sizes(dim, epochs)
    _check_run(seed, device)
    graph = read_graph(edges, nodes=nodes, directed=directed, features=features)

    def embed_fn(train_graph, split_seed):
        with _progress_bar(f"split {split_seed + 1}/{seeds}", quiet) as bar:
            return (
                _model(dim, epochs, seed + split_seed, device, encoder, bar)
                .fit(train_graph)
                .embeddings_
            )

    result = evaluate_links(graph, embed_fn, seeds=seeds, val=val, test=test)
    _print_metrics(
        f"link prediction (split {result['split']}, score {result['runs'][0]['score']})", result
    )
    _write_json(json_out, result)


@app.command()
@_user_errors
def demo(
    dataset: str = typer.Option(
        "cora",
        "--dataset",
        help="Bundled data set (cora, citeseer) or an OGB set "
        "under --root (ogbn-arxiv, ogbl-collab, ...: OGB's split and Evaluator).",
    ),
    epochs: Optional[int] = EPOCHS,
    seed: int = SEED,
    quiet: bool = QUIET,
    root: Optional[Path] = typer.Option(
        None,
        "--root",
        help="Folder holding OGB's data sets (ROOT/ogbn_arxiv/...); nothing is downloaded.",
    ),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Also write the embedding (.npy, .csv, .parquet)."
    ),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="Also draw the embedding in 2-D by class (.png)."
    ),
):
    """Embed a data set, then report node classification and link prediction (OGB sets: OGB's
    own)."""
    from genurl_graph import datasets

    _check_sizes(None, epochs)
    _check_run(seed)
    from genurl_graph.io import check_output_path

    from .ogb import finish_demo, ogb_demo

    if output is not None:
        check_output_path(output)
    if plot is not None:
        check_output_path(plot, (".png",))
    if dataset.lower().startswith(("ogbn-", "ogbl-")):
        ogb_demo(dataset, root, epochs, seed, quiet, output, plot)
        return
    data = datasets.load(dataset, root)
    from genurl_graph import GenURL  # torch: once the data set is known to be there
    from genurl_graph.eval import evaluate_links, linear_probe

    start = time.perf_counter()
    with _progress_bar(f"{dataset}: embedding", quiet) as bar:
        model = GenURL(epochs=epochs, random_state=seed, progress=bar).fit(data.graph)
    took = time.perf_counter() - start
    probe = linear_probe(model.embeddings_, data.labels, data.split)
    _print_metrics(f"{dataset}: node classification, public split ({took:.1f} s to embed)", probe)

    def embed_fn(train_graph, split_seed):
        with _progress_bar(f"{dataset}: link prediction", quiet) as bar:
            return (
                GenURL(epochs=epochs, random_state=seed, progress=bar).fit(train_graph).embeddings_
            )

    links = evaluate_links(data.graph, embed_fn)
    _print_metrics(f"{dataset}: link prediction, 85/5/10 edge split", links)
    finish_demo(dataset, model.embeddings_, data, output, plot, seed, quiet)


from . import tasks_commands  # noqa: E402,F401  (registers reduce, distill, apply, ssl)


def main():  # pragma: no cover - console entry point
    """Run the command, then end the process without the interpreter's teardown: the exit
    handlers run (DGL's among them), the output is flushed, and torch's, numba's and
    scikit-learn's modules are not torn down one by one (0.7 s of a 3 s `genurl reduce`)."""
    import atexit
    import os

    try:
        app()
        code = 0
    except SystemExit as stop:
        code = stop.code
    if isinstance(code, str):  # as the interpreter does: the message on stderr, status 1
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (`genurl ... | head`): nothing more can be written
            pass
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
