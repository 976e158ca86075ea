"""Scale benchmark: structure-only graph embedding of planted-community graphs of growing size.

    python benchmarks/scale.py                          # n in {1e4, 1e5, 1e6}, about 10 edges per
    node
    python benchmarks/scale.py --sizes 10000,100000 --dim 32 --device cuda

Each graph is a stochastic block model (``--blocks`` equal communities; of each node's ~10
edges, a fraction ``--mixing`` leaves its community), built as a DGLGraph (a scipy adjacency
where DGL cannot import). Each size runs ``GenURL(task="ge")`` in a fresh subprocess and reports
wall time (graph -> embedding), peak RSS of that process (and peak CUDA memory on a GPU), and
the linear-probe accuracy on the planted labels (random 50/10/40 splits over at most
``--probe-nodes`` sampled nodes, so the probe's cost does not grow with n). Epochs are GenURL's
(fewer on large structure-only graphs, see tasks/ge.defaults) unless ``--epochs`` is given; the
table shows how many ran, and ``--epochs N`` gives the same work per edge at every size. The slope
of
log(time) against log(edges) says how close to linear the pipeline scales. Prints a table and
writes benchmarks/results/scale.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds scripts named like standard modules (ssl.py): keep this folder off the import
# path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def sbm_edges(n: int, blocks: int, degree: float, mixing: float, seed: int = 0):
    """Undirected SBM edges without loops or repeats: n*degree/2 pairs, a ``mixing`` fraction
    of them between two uniform nodes, the rest between two nodes of one community.
    Returns (src, dst, labels); O(E) time and memory."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, blocks, n)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(blocks + 1))
    m = int(round(n * degree / 2))
    m_out = int(round(m * mixing))
    u = rng.integers(0, n, m)
    v = np.empty(m, dtype=np.int64)
    v[:m_out] = rng.integers(0, n, m_out)
    lab = labels[u[m_out:]]
    lo, size = starts[lab], starts[lab + 1] - starts[lab]
    v[m_out:] = order[lo + (rng.random(m - m_out) * size).astype(np.int64)]
    a, b = np.minimum(u, v), np.maximum(u, v)
    key = np.unique(a[a != b] * n + b[a != b])
    return key // n, key % n, labels


def build_graph(n, blocks, degree, mixing, seed=0):
    src, dst, labels = sbm_edges(n, blocks, degree, mixing, seed)
    try:
        sys.path.insert(0, str(ROOT))
        from genurl_graph._deps import require_dgl
        import torch

        dgl = require_dgl()
        g = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=n)
        return g, len(src), labels, "dgl"
    except ImportError:
        import scipy.sparse as sp

        adj = sp.coo_matrix((np.ones(len(src), dtype=np.float32), (src, dst)), shape=(n, n))
        return (adj + adj.T).tocsr(), len(src), labels, "scipy"


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_size(args, n: int) -> dict:
    """One size, in this process: build, embed, probe; what the parent prints."""
    import torch

    sys.path.insert(0, str(ROOT))
    from genurl_graph import GenURL
    from genurl_graph.eval import linear_probe

    torch.set_num_threads(args.threads or torch.get_num_threads())
    t0 = time.perf_counter()
    graph, edges, labels, kind = build_graph(n, args.blocks, args.degree, args.mixing, args.seed)
    t_graph = time.perf_counter() - t0
    kw = {
        k: v
        for k, v in (
            ("walks_per_node", args.walks),
            ("walk_length", args.walk_length),
            ("window", args.window),
            ("epochs", args.epochs),
            ("batch_size", args.batch_size or (int(args.batch_per_node * n) or None)),
        )
        if v is not None
    }
    model = GenURL(task="ge", dim=args.dim, random_state=args.seed, device=args.device, **kw)
    t1 = time.perf_counter()
    Z = model.fit_transform(graph)
    t_fit = time.perf_counter() - t1
    rss = peak_rss_bytes()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    rng = np.random.default_rng(args.seed)
    rows = (
        rng.choice(n, min(n, args.probe_nodes), replace=False) if args.probe_nodes else np.arange(n)
    )
    probe = linear_probe(Z[rows], labels[rows], seeds=args.seeds)
    acc = probe["metrics"]["accuracy"]
    return {
        "nodes": n,
        "edges": edges,
        "pxedges": int(model.affinity_.P.nnz),
        "graph": kind,
        "dim": model.dim or Z.shape[1],
        "seconds": t_fit,
        "cpu_seconds": cpu,
        "train_seconds": model.history_.seconds,
        "graph_seconds": t_graph,
        "epochs_run": len(model.history_.losses),
        "backend": model.history_.backend,
        "peak_rss_bytes": rss,
        "peak_cuda_bytes": torch.cuda.max_memory_allocated() if args.device != "cpu" else None,
        "probe_accuracy": acc["mean"],
        "probe_std": acc["std"],
        "probe_nodes": len(rows),
        "settings": kw,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--blocks", type=int, default=10, help="planted communities")
    parser.add_argument(
        "--degree", type=float, default=10.0, help="mean degree (about 10 edges per node)"
    )
    parser.add_argument(
        "--mixing", type=float, default=0.3, help="fraction of edges between communities"
    )
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument(
        "--walks", type=int, default=None, help="walks per node (GenURL's default when unset)"
    )
    parser.add_argument("--walk-length", type=int, default=None)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--batch-size", type=int, default=None, help="edges per batch (else --batch-per-node * n)"
    )
    parser.add_argument(
        "--batch-per-node",
        type=float,
        default=2.0,
        help="batch size per node, so the number of steps (each an Adam step over the whole "
        "table) stays the same at every n; 0: GenURL's default",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--probe-nodes", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=3, help="probe splits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size here
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_size(args, args.one)))
        return
    passthrough = [a for a in sys.argv[1:]]
    rows = []
    print(
        f"{'nodes':>9} {'edges':>10} {'P_X edges':>10} {'d':>3} {'epochs':>6} {'wall s':>8} "
        f"{'train s':>8} "
        f"{'peak RSS MB':>11} {'probe acc %':>12}",
        flush=True,
    )
    for n in map(int, args.sizes.split(",")):
        proc = subprocess.run(
            [sys.executable, __file__, *passthrough, "--one", str(n)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            print(f"{n:>9} failed: {err}", flush=True)
            rows.append({"nodes": n, "error": err})
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["peak_rss_bytes_children"] = (
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        )
        rows.append(row)
        print(
            f"{n:>9} {row['edges']:>10} {row['pxedges']:>10} {row['dim']:>3} "
            f"{row['epochs_run']:>6} {row['seconds']:>8.1f} "
            f"{row['train_seconds']:>8.1f} {row['peak_rss_bytes'] / 2**20:>11.0f} "
            f"{100 * row['probe_accuracy']:>8.2f} ± {100 * row['probe_std']:.2f}",
            flush=True,
        )
    ok = [r for r in rows if "error" not in r]
    slope = None
    if len(ok) >= 2:
        slope = float(
            np.polyfit(np.log([r["edges"] for r in ok]), np.log([r["seconds"] for r in ok]), 1)[0]
        )
        print(f"slope of log(wall time) vs log(edges): {slope:.2f} (1.00 = linear)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "device": args.device,
                "slope": slope,
                "args": {k: v for k, v in vars(args).items() if k != "one"},
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
