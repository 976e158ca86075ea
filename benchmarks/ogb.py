"""What ogbn-arxiv will cost on this machine, by extrapolation from measured smaller runs.

ogbn-arxiv (169,343 nodes, 1,166,243 directed citations, 128-d features, 40 classes) cannot be
downloaded here. This writes synthetic stand-ins of the same shape (6.89 citations per node, 128-d
features, 40 classes, OGB's split proportions 53.7/17.6/28.7 %) at smaller sizes in OGB's raw
layout, then runs exactly what `genurl demo --dataset ogbn-arxiv` runs on each, each size in its own
process: ogb's DGL loader (first load: csv -> DGL cache), GenURL's defaults, OGB's Evaluator on the
probe. It prints a table of wall and CPU seconds and peak RSS per size, fits log(cost) against
log(nodes) and extrapolates to 169,343 nodes; JSON in benchmarks/results/ogb.json.

    .venv/bin/python benchmarks/ogb.py --sizes 5000,10000,20000,40000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ARXIV_NODES, ARXIV_EDGES = 169_343, 1_166_243


def write(root: Path, n: int, seed: int = 0) -> None:
    from genurl_graph import datasets

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 40, n)
    per = ARXIV_EDGES / ARXIV_NODES
    src = np.repeat(np.arange(n), rng.poisson(per, n))
    same = rng.random(len(src)) < 0.6  # 60 % of citations within the field
    by_class = [np.flatnonzero(y == c) for c in range(40)]
    dst = rng.integers(0, n, len(src))
    for c in range(40):
        rows = np.flatnonzero(same & (y[src] == c))
        dst[rows] = rng.choice(by_class[c], len(rows))
    keep = src != dst
    centres = rng.normal(size=(40, 128)).astype(np.float32)
    X = 0.35 * centres[y] + rng.normal(size=(n, 128)).astype(np.float32)
    perm = rng.permutation(n)
    a, b = int(0.537 * n), int((0.537 + 0.176) * n)
    split = {"train": perm[:a], "valid": perm[a:b], "test": perm[b:]}
    datasets.write_ogb(
        root,
        "ogbn-arxiv",
        np.stack([src[keep], dst[keep]], 1),
        n,
        X,
        y,
        split,
        extra={"node_year": rng.integers(1990, 2021, (n, 1))},
    )


def one(root: str) -> dict:
    """Run in a fresh process: load, embed, evaluate; the costs of each step."""
    from genurl_graph import GenURL, datasets
    from genurl_graph.eval.ogb import ogb_evaluate

    out = {}
    t, c = time.perf_counter(), time.process_time()
    data = datasets.load("ogbn-arxiv", root)
    out["load_s"], out["load_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    Z = GenURL(random_state=0).fit(data.graph).embeddings_
    out["embed_s"], out["embed_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    res = ogb_evaluate(Z, data)
    out["eval_s"], out["eval_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    out["test_acc"] = res["metrics"]["test_acc"]["mean"]
    out["nodes"], out["stored_edges"], out["dim"] = (
        data.graph.num_nodes,
        data.graph.num_edges,
        Z.shape[1],
    )
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", default="5000,10000,20000,40000")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "ogb.json"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    rows = []
    for n in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            write(Path(tmp), n)
            proc = subprocess.run(
                [sys.executable, __file__, "--one", tmp], capture_output=True, text=True
            )
            if proc.returncode:
                sys.exit(proc.stderr)
            row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            " ".join(
                f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
            ),
            flush=True,
        )
    head = (
        f"{'nodes':>8} {'edges':>9} {'load s':>7} {'embed s':>8} {'embed CPU s':>11} {'eval s':>7} "
        f"{'eval CPU s':>10} {'peak RSS MB':>11} {'test acc %':>10}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['nodes']:>8} {r['stored_edges']:>9} {r['load_s']:>7.1f} {r['embed_s']:>8.1f} "
            f"{r['embed_cpu_s']:>11.1f} "
            f"{r['eval_s']:>7.1f} {r['eval_cpu_s']:>10.1f} {r['peak_rss_mb']:>11.0f} "
            f"{100 * r['test_acc']:>10.2f}"
        )
    extrap = {}
    if len(rows) >= 2:
        n = np.log([r["nodes"] for r in rows])
        for key in ("load_s", "embed_s", "embed_cpu_s", "eval_s", "eval_cpu_s", "peak_rss_mb"):
            # the two largest
            slope, icpt = np.polyfit(n[-2:], np.log([r[key] for r in rows[-2:]]), 1)
            extrap[key] = {
                "slope": float(slope),
                "at_arxiv": float(np.exp(icpt + slope * np.log(ARXIV_NODES))),
            }
        print(
            f"extrapolated to {ARXIV_NODES:,} nodes (log-log line through the two largest sizes):"
        )
        for key, v in extrap.items():
            print(f"  {key:<12} slope {v['slope']:.2f}  -> {v['at_arxiv']:.0f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "extrapolation": extrap}, indent=1))


if __name__ == "__main__":
    main()
