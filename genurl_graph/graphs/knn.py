"""kNN graphs of feature vectors: the graph that carries P_X for features (GE) and data (DR)."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def knn_graph(X, k: int, metric: str = "cosine", chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of every row (itself excluded): ``(indices, distances)``, (n, k).

    Exact, by blocks of ``chunk`` rows (O(n^2 f) time, O(chunk * n) memory); ``metric`` is
    ``"cosine"`` (1 - cosine similarity) or ``"euclidean"``.
    """
    if metric not in ("cosine", "euclidean"):
        raise InputError(f"unknown metric {metric!r}: use cosine or euclidean")
    n = X.shape[0]
    if n <= k:
        raise InputError(f"{n} points are too few for {k} neighbours (need more than k)")
    if sp.issparse(X):
        X = X.tocsr().astype(np.float32)
        sq = np.asarray(X.multiply(X).sum(1)).ravel()
    else:
        X = np.asarray(X, dtype=np.float32)
        sq = (X * X).sum(1)
    if metric == "cosine":
        norms = np.sqrt(np.maximum(sq, 1e-12))
        X = sp.diags(1 / norms) @ X if sp.issparse(X) else X / norms[:, None]
        sq = np.ones(n, dtype=np.float32)
    XT = X.T.tocsr() if sp.issparse(X) else X.T
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        gram = _dense(X[start:stop] @ XT)
        d = sq[start:stop, None] + sq[None, :] - 2 * gram
        d[np.arange(stop - start), np.arange(start, stop)] = np.inf
        part = np.argpartition(d, k, axis=1)[:, :k]
        pd_ = np.take_along_axis(d, part, 1)
        order = np.argsort(pd_, 1, kind="stable")
        idx[start:stop] = np.take_along_axis(part, order, 1)
        dist[start:stop] = np.maximum(np.take_along_axis(pd_, order, 1), 0)
    if metric == "cosine":
        dist = dist / 2  # ||a-b||^2 = 2 - 2cos for unit vectors
    else:
        dist = np.sqrt(dist)
    return idx, dist
