"""Quality of a low-dimensional embedding Z of data X (dimension reduction).

Local: trustworthiness and continuity at k (Venna & Kaski), recall of the k nearest neighbours,
leave-one-out kNN classification accuracy. Global: random-triplet accuracy and the Spearman
correlation of pairwise distances. Above ``sample`` points, the rank-based measures are
averaged over a random sample of query points (each still ranked against all n points), so
memory stays O(chunk * n).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError


def _dense(X) -> np.ndarray:
    return (X.toarray() if sp.issparse(X) else np.asarray(X)).astype(np.float64)


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
    return np.maximum(d, 0)


def _neighbour_ranks(X, Z, queries: np.ndarray, k: int, chunk: int = 512):
    """For each query: the ranks (1 = nearest) in X of its k nearest in Z and vice versa, and
    both neighbour sets."""
    n = X.shape[0]
    out = {"nx": [], "nz": [], "rank_x_of_nz": [], "rank_z_of_nx": []}
    for lo in range(0, len(queries), chunk):
        q = queries[lo : lo + chunk]
        rows = np.arange(len(q))
        dx, dz = _sqdist(X[q], X), _sqdist(Z[q], Z)
        dx[rows, q] = np.inf
        dz[rows, q] = np.inf
        ox = np.argsort(dx, 1, kind="stable")
        oz = np.argsort(dz, 1, kind="stable")
        rx = np.empty_like(ox)
        rz = np.empty_like(oz)
        np.put_along_axis(rx, ox, np.arange(1, n + 1)[None, :].repeat(len(q), 0), 1)
        np.put_along_axis(rz, oz, np.arange(1, n + 1)[None, :].repeat(len(q), 0), 1)
        nx, nz = ox[:, :k], oz[:, :k]
        out["nx"].append(nx)
        out["nz"].append(nz)
        out["rank_x_of_nz"].append(np.take_along_axis(rx, nz, 1))
        out["rank_z_of_nx"].append(np.take_along_axis(rz, nx, 1))
    return {key: np.concatenate(v) for key, v in out.items()}


def dr_metrics(
    X,
    Z,
    labels=None,
    k: int = 10,
    sample: int = 5000,
    triplets: int = 100_000,
    pairs: int = 100_000,
    seed: int = 0,
) -> dict:
    """All DR measures at ``k`` as a dict of floats (``knn_accuracy`` only with ``labels``)."""
    X, Z = _dense(X), _dense(Z)
    n = X.shape[0]
    if Z.shape[0] != n:
        raise InputError(f"the embedding has {Z.shape[0]} rows, the data {n}")
    if labels is not None and len(labels) != n:
        raise InputError(f"{len(labels)} labels for {n} points")
    if not 1 <= k < n / 2:
        raise InputError(f"k={k} must be at least 1 and below half the {n} points")
    rng = np.random.default_rng(seed)
    queries = np.arange(n) if n <= sample else np.sort(rng.choice(n, sample, replace=False))
    r = _neighbour_ranks(X, Z, queries, k)
    norm = 2.0 / (k * (2 * n - 3 * k - 1))
    trust = 1 - norm * np.maximum(r["rank_x_of_nz"] - k, 0).sum(1).mean()
    cont = 1 - norm * np.maximum(r["rank_z_of_nx"] - k, 0).sum(1).mean()
    recall = np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(r["nx"], r["nz"])])
    out = {"trustworthiness": float(trust), "continuity": float(cont), "knn_recall": float(recall)}
    if labels is not None:
        labels = np.asarray(labels)
        _, codes = np.unique(labels, return_inverse=True)
        votes = codes[r["nz"]]
        counts = np.zeros((len(queries), codes.max() + 1))
        np.add.at(counts, (np.repeat(np.arange(len(queries)), k), votes.ravel()), 1)
        out["knn_accuracy"] = float((counts.argmax(1) == codes[queries]).mean())
    i, j, m = rng.integers(0, n, (3, triplets))
    dxj, dxm = ((X[i] - X[j]) ** 2).sum(1), ((X[i] - X[m]) ** 2).sum(1)
    dzj, dzm = ((Z[i] - Z[j]) ** 2).sum(1), ((Z[i] - Z[m]) ** 2).sum(1)
    valid = (j != m) & (dxj != dxm)
    out["triplet_accuracy"] = float(((dxj < dxm) == (dzj < dzm))[valid].mean())
    a, b = rng.integers(0, n, (2, pairs))
    keep = a != b
    from scipy.stats import spearmanr

    out["distance_spearman"] = float(
        spearmanr(((X[a] - X[b]) ** 2).sum(1)[keep], ((Z[a] - Z[b]) ** 2).sum(1)[keep]).statistic
    )
    return out
