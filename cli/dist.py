"""``genurl partition`` and ``genurl embed-dist``: graph embedding on DistDGL
(:mod:`genurl_graph.distributed`, docs/distributed.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from .common import (
    DIM,
    DIRECTED,
    EPOCHS,
    NODES,
    QUIET,
    SEED,
    _check_sizes,
    _progress_bar,
    _user_errors,
    app,
    err,
)


@app.command()
@_user_errors
def partition(
    edges: Path = typer.Argument(..., help="Edge list (as for `genurl embed`)."),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="Folder for the partitions, DGL's partition "
        "config (genurl.json), the id map and the settings; made if missing.",
    ),
    parts: int = typer.Option(
        ..., "--parts", help="Partitions: one per machine (the lines of ip_config)."
    ),
    method: str = typer.Option("metis", "--method", help="metis (fewest P_X edges cut) or random."),
    nodes: Optional[Path] = NODES,
    directed: bool = DIRECTED,
    dim: Optional[int] = DIM,
    seed: int = SEED,
    features: Optional[Path] = typer.Option(
        None,
        "--features",
        help="Not supported yet: distributed embedding takes structure-only graphs.",
    ),
    quiet: bool = QUIET,
):
    """Build a graph's P_X (as `genurl embed` does, structure only) and partition it for
    `embed-dist`."""
    from genurl_graph.io import existing_file

    _check_sizes(dim, None)
    if features is not None:
        from genurl_graph.errors import InputError

        raise InputError(
            "distributed embedding takes structure-only graphs for now: leave out --features",
            features,
        )
    existing_file(edges)
    from genurl_graph.distributed.parts import require_distdgl

    require_distdgl()  # say what is missing before reading anything
    if output.exists() and not output.is_dir():
        from genurl_graph.errors import InputError

        raise InputError("the output is not a folder", output)
    from genurl_graph import read_graph
    from genurl_graph.distributed import partition as run

    graph = read_graph(edges, nodes=nodes, directed=directed)
    note = None if quiet else (lambda what: err.print(f"{what} ...", highlight=False))
    s = run(graph, output, parts, method=method, dim=dim, seed=seed, progress=note)
    err.print(
        f"{s['num_nodes']} nodes, {s['num_px_edges']} P_X edges -> {parts} {method} partitions "
        f"(nodes {s['part_sizes']}, {100 * s['cut_fraction']:.1f} % of P_X edges cut) in {output}; "
        f"launch (one trainer per machine): genurl embed-dist -o emb.npy "
        f"--part-config {output / 'genurl.json'}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("embed-dist")
@_user_errors
def embed_dist(
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        help="Output (written by trainer 0): .npy (ids in .nodes.txt beside it), .csv or .parquet.",
    ),
    part_config: Optional[Path] = typer.Option(
        None,
        "--part-config",
        help="genurl.json from `genurl partition`; default: DGL_CONF_PATH (set by DGL's launcher).",
    ),
    ip_config: Optional[Path] = typer.Option(
        None,
        "--ip-config",
        help="'IP PORT' per machine; default: DGL_IP_CONFIG (set by DGL's launcher).",
    ),
    epochs: Optional[int] = EPOCHS,
    seed: Optional[int] = typer.Option(
        None, "--seed", help="Training seed (default: the one given to partition)."
    ),
    summary: Optional[Path] = typer.Option(
        None, "--summary", help="Trainer 0 also writes its timings and losses to this JSON file."
    ),
    local_rank: Optional[int] = typer.Option(
        None,
        "--local-rank",
        "--local_rank",
        hidden=True,
        help="Set by torch.distributed.launch; unused (LOCAL_RANK).",
    ),
    quiet: bool = QUIET,
):
    """One process (server or trainer) of a distributed embedding; start it on every machine with
    DGL's launcher, e.g. `python3 tools/launch.py --num_trainers 1 ... "genurl embed-dist -o
    emb.npy"` (more trainers per machine: "python3 -m genurl_graph.cli embed-dist -o emb.npy",
    which the launcher wraps in torch.distributed.launch)."""
    from genurl_graph.distributed import embed

    _check_sizes(None, epochs)
    with _progress_bar("embedding (distributed)", quiet) as bar:
        result = embed(
            output,
            part_config=part_config,
            ip_config=ip_config,
            epochs=epochs,
            seed=seed,
            progress=bar,
        )
    if result is None:
        return
    sec = result["seconds"]
    err.print(
        f"{result['nodes']} nodes, {result['trainers']} trainers, {result['epochs']} epochs; "
        f"connect "
        f"{sec['connect']:.1f} s, setup {sec['setup']:.1f} s, train {sec['train']:.1f} s, write "
        f"{sec['write']:.1f} s -> " + ", ".join(result["written"]),
        highlight=False,
        soft_wrap=True,
    )
    if summary is not None:
        summary.write_text(json.dumps(result, indent=1) + "\n")
