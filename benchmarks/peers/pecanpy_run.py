"""Run node2vec (the ``pecanpy`` package, p = q = 1) on edge lists, for benchmarks/structure.py.

Runs in its own environment (.venv-pecanpy: pecanpy pins numpy<2):

    .venv-pecanpy/bin/python benchmarks/peers/pecanpy_run.py OUT.npz EDGES [EDGES ...] [--weighted]

pecanpy's fastest mode for p = q = 1 (FirstOrderUnweighted; PreCompFirstOrder with weights),
128-d, its default walks (10 per node, length 80, window 10), on every core, random_state 0.
Warms up on a small graph first (numba compilation is not timed), then times file ->
embedding per edge list. Writes ``emb{i}``, ``ids{i}`` (text) and ``wall{i}`` per graph.
"""

import argparse
import os
import tempfile
import time

import numpy as np


def embed(path, weighted, workers, seed):
    from pecanpy import pecanpy as node2vec

    mode = node2vec.PreCompFirstOrder if weighted else node2vec.FirstOrderUnweighted
    g = mode(p=1, q=1, workers=workers, verbose=False, random_state=seed)
    g.read_edg(path, weighted=weighted, directed=False)
    return g.embed(dim=128), g.nodes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("edges", nargs="+")
    parser.add_argument("--weighted", action="store_true")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        warm = os.path.join(tmp, "warm.edg")
        pairs = rng.integers(0, 200, (2000, 2))
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        np.savetxt(
            warm,
            np.c_[pairs, np.ones(len(pairs))] if args.weighted else pairs,
            fmt="%d",
            delimiter="\t",
        )
        embed(warm, args.weighted, args.workers, 0)
    out = {}
    for i, path in enumerate(args.edges):
        start = time.perf_counter()
        emb, ids = embed(path, args.weighted, args.workers, 0)
        out[f"wall{i}"] = time.perf_counter() - start
        out[f"emb{i}"] = np.asarray(emb, dtype=np.float32)
        out[f"ids{i}"] = np.asarray([str(v) for v in ids], dtype=str)
        print(f"pecanpy {path}: {out[f'wall{i}']:.2f} s", flush=True)
    np.savez(args.out, **out)


if __name__ == "__main__":
    main()
