"""Run ProNE (the ``nodevectors`` package) on edge lists, for benchmarks/structure.py.

Runs in its own environment (.venv-prone: nodevectors needs networkx<3), so it is a script
that the benchmark starts as a subprocess:

    .venv-prone/bin/python benchmarks/peers/prone_run.py OUT.npz EDGES [EDGES ...] [--dim 128]

Warms up on a small random graph first (csrgraph compiles with numba), then for each edge list
times file -> embedding (csrgraph's reader + ProNE.fit_transform, default settings but the
dimension) on the cores it is given. Writes, per graph i, ``emb{i}`` (rows), ``ids{i}`` (the
node id of each row, as text) and ``wall{i}`` (seconds).
"""

import argparse
import os
import tempfile
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("edges", nargs="+")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument(
        "--weighted", action="store_true", help="edge lists carry a third weight column"
    )
    args = parser.parse_args()
    import csrgraph as cg
    from nodevectors import ProNE

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:  # warm-up: numba compilation is not timed
        warm = os.path.join(tmp, "warm.edg")
        pairs = rng.integers(0, 300, (3000, 2))
        np.savetxt(
            warm,
            np.c_[pairs, np.ones(len(pairs))] if args.weighted else pairs,
            fmt="%d",
            delimiter="\t",
        )
        ProNE(n_components=args.dim, verbose=False).fit_transform(
            cg.read_edgelist(warm, directed=False, sep="\t")
        )
    out = {}
    for i, path in enumerate(args.edges):
        start = time.perf_counter()
        G = cg.read_edgelist(path, directed=False, sep=r"\s+", comment="#")
        emb = ProNE(n_components=args.dim, verbose=False).fit_transform(G)
        out[f"wall{i}"] = time.perf_counter() - start
        out[f"emb{i}"] = np.asarray(emb, dtype=np.float32)
        out[f"ids{i}"] = np.asarray([str(v) for v in G.names], dtype=str)
        print(f"prone {path}: {out[f'wall{i}']:.2f} s", flush=True)
    np.savez(args.out, **out)


if __name__ == "__main__":
    main()
