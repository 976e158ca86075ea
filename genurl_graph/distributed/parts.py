"""``genurl partition``: the structure-only P_X graph of a graph, split for DistDGL.

Everything a single-process ``genurl embed`` builds before it trains is built here, by the same
functions (:func:`genurl_graph.tasks.ge.wire`: P_X from :func:`~genurl_graph.tasks.ge.ge_affinity`,
the spectral start of the free table, the degree^0.75 weights of the push pool), then the P_X
graph (edge data ``p``) is cut by ``dgl.distributed.partition_graph``. Partitioning renumbers the
nodes so that each partition owns a contiguous range of new ids; the files written beside DGL's
own keep what the trainers need to train the same objective and to write the result back in the
user's order:

- ``<name>.json`` and ``part<i>/``: DGL's partition config and partitions (P_X edges, weight ``p``);
- ``part<i>/genurl_init.npy``: the spectral start of the rows partition i owns (new-id order), read
  only by the trainers of machine i;
- ``genurl_nodes.txt``: the user's node ids, in the user's row order (what ``emb.nodes.txt`` holds);
- ``genurl_node_map.npy``: for each new id, its row in the user's order;
- ``genurl_negw.npy``: the push pool's sampling weight of each node (new-id order);
- ``genurl_settings.json``: the training settings ``genurl embed`` would use for this graph.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import InputError

GRAPH_NAME = "genurl"
SETTINGS = "genurl_settings.json"
NODES = "genurl_nodes.txt"
NODE_MAP = "genurl_node_map.npy"
NEG_WEIGHTS = "genurl_negw.npy"
INIT = "genurl_init.npy"
METHODS = ("metis", "random")


def require_distdgl():
    """``dgl.distributed``, or an InputError saying what to install (the command needs it)."""
    from .._deps import require_dgl

    try:
        dgl = require_dgl()
        import dgl.distributed  # noqa: F401, F811  (loads the submodule onto dgl)
    except ImportError as exc:
        raise InputError(
            f"distributed embedding needs DGL's distributed package (DistDGL): {exc}"
        ) from exc
    return dgl


def partition(
    graph,
    out_dir,
    parts: int,
    method: str = "metis",
    dim: int | None = None,
    seed: int = 0,
    walks_per_node: int | None = None,
    walk_length: int | None = None,
    window: int | None = None,
    progress=None,
) -> dict:
    """Build ``graph``'s P_X as ``genurl embed`` does (structure only), cut it into ``parts``
    partitions with ``method`` (``metis`` or ``random``) and write them under ``out_dir``.
    Returns the settings written (``genurl_settings.json``), with the partition sizes and the
    fraction of P_X edges cut."""
    from ..graphs import as_graph
    from ..model import GenURL
    from ..tasks import ge
    from ..tasks.base import setting

    if method not in METHODS:
        raise InputError(f"unknown partition method {method!r}: {', '.join(METHODS)}")
    if parts < 1:
        raise InputError(f"--parts must be at least 1, got {parts}")
    dgl = require_distdgl()
    import torch

    graph = as_graph(graph)
    if graph.features is not None:
        raise InputError(
            "distributed embedding takes structure-only graphs for now: leave out --features",
            graph.source,
        )
    n = graph.num_nodes
    if parts > n:
        raise InputError(f"--parts {parts} is more than the graph's {n} nodes")
    # the estimator's own defaults, so P_X and the start are those of `genurl embed`
    m = GenURL(task="ge", dim=dim, random_state=seed)
    walks = m.walks_per_node if walks_per_node is None else walks_per_node
    length = m.walk_length if walk_length is None else walk_length
    win = m.window if window is None else window
    _note(progress, "P_X")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, table, _, affinity, neg_w = ge.wire(
            graph,
            "table",
            dim,
            setting(m, "k", ge.WITH_FEATURES.k),
            m.hops,
            m.alpha,
            setting(m, "hidden", 512),
            walks,
            length,
            win,
            seed,
        )
    auto = ge.defaults(graph, "table").train
    init = table.weight.detach().numpy()
    del table
    src, dst, p = affinity.edges()
    del affinity
    pxg = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=n)
    pxg.edata["p"] = torch.from_numpy(p)
    del src, dst, p
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _note(progress, f"{method} partition into {parts}")
    chatter = io.StringIO()  # DGL prints some 16 lines of timings, among them "0 edge cuts"
    try:
        with contextlib.redirect_stdout(chatter):
            orig_nids, _ = dgl.distributed.partition_graph(
                pxg,
                GRAPH_NAME,
                parts,
                str(out),
                part_method=method,
                balance_edges=True,
                return_mapping=True,
            )
    except BaseException:
        sys.stderr.write(chatter.getvalue())  # what DGL said before it failed
        raise
    orig_nids = orig_nids.numpy()
    config = json.loads((out / f"{GRAPH_NAME}.json").read_text())
    ranges = config["node_map"]["_N"]
    cut = _cut_fraction(pxg, orig_nids, ranges)
    for i, (lo, hi) in enumerate(ranges):
        np.save(out / f"part{i}" / INIT, init[orig_nids[lo:hi]])
    np.save(out / NODE_MAP, orig_nids.astype(np.int64))
    weights = np.ones(n) if neg_w is None else np.asarray(neg_w, dtype=np.float64)
    np.save(out / NEG_WEIGHTS, weights[orig_nids].astype(np.float32))
    (out / NODES).write_text("\n".join(map(str, graph.ids)) + "\n")
    settings = {
        "graph_name": GRAPH_NAME,
        "num_nodes": n,
        "num_px_edges": int(pxg.num_edges()),
        "parts": parts,
        "method": method,
        "part_sizes": [hi - lo for lo, hi in ranges],
        "cut_fraction": cut,
        "dim": int(init.shape[1]),
        "seed": seed,
        "epochs": auto.epochs,
        "lr": auto.lr,
        "nu": auto.nu,
        "negatives": auto.negatives,
        "pool": auto.pool,
        "batch_size": auto.batch_size,
        "walks_per_node": walks,
        "walk_length": length,
        "window": win,
        "source": graph.source,
    }
    (out / SETTINGS).write_text(json.dumps(settings, indent=1) + "\n")
    return settings


def _cut_fraction(pxg, orig_nids: np.ndarray, ranges) -> float:
    """The fraction of P_X edges whose two ends lie in different partitions."""
    part_of_new = np.repeat(np.arange(len(ranges)), [hi - lo for lo, hi in ranges])
    part = np.empty(len(orig_nids), dtype=np.int64)
    part[orig_nids] = part_of_new
    s, d = (x.numpy() for x in pxg.edges())
    return float((part[s] != part[d]).mean()) if len(s) else 0.0


def _note(progress, what: str) -> None:
    if progress is not None:
        progress(what)
