"""kNN graphs of feature vectors: the graph that carries P_X for features (GE) and data (DR)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._deps import one_blas_thread
from ..errors import InputError

# Multiply-adds of the exact kNN's products (n^2 f) below which BLAS runs on one thread: a
# second thread saves milliseconds there, and then spins ~0.1 s holding a core (one_blas_thread).
# Digits (1,797 x 64) and COIL-20 (1,440 x 1,024) fall below; MNIST-5k (5,000 x 784), where
# two threads take its kNN from 0.40 to 0.31 s, above.
ONE_BLAS_THREAD_BELOW = 2**31


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def knn_graph(
    X, k: int, metric: str = "cosine", chunk: int = 2048, method: str = "exact"
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of every row (itself excluded): ``(indices, distances)``, (n, k).

    ``method="exact"``: by blocks of ``chunk`` rows (O(n^2 f) time, O(chunk * n) memory);
    ``"nndescent"``: approximate, DGL's nn-descent (dense X; about n k f log n); where DGL is
    not available, the exact kNN by blocked torch matrix products instead (on CUDA when torch
    sees one; O(n^2 f): on 2 CPU cores about 20 s for 70,000 x 64, see docs/backends.md).
    ``metric`` is ``"cosine"`` (distance 1 - cosine similarity) or ``"euclidean"``.
    """
    if metric not in ("cosine", "euclidean"):
        raise InputError(f"unknown metric {metric!r}: use cosine or euclidean")
    n = X.shape[0]
    if n <= k:
        raise InputError(f"{n} points are too few for {k} neighbours (need more than k)")
    if method == "nndescent":
        from .._deps import dgl_available

        if not dgl_available():
            return _exact_torch(_dense(X).astype(np.float32), k, metric)
        return _nndescent(_dense(X).astype(np.float32), k, metric)
    if method != "exact":
        raise ValueError(f"unknown kNN method {method!r}: exact or nndescent")
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
    with one_blas_thread(n * n * X.shape[1] < ONE_BLAS_THREAD_BELOW):
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


def _nndescent(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Approximate kNN by DGL's nn-descent; distances recomputed exactly for the pairs found."""
    import torch

    from .._deps import require_dgl

    require_dgl()
    import dgl

    if metric == "cosine":
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    g = dgl.knn_graph(torch.from_numpy(X), k + 1, algorithm="nn-descent", dist="euclidean")
    src, dst = (t.numpy() for t in g.edges())  # src is a neighbour of dst, itself included
    order = np.lexsort((src, dst))
    src, dst = src[order], dst[order]
    n = X.shape[0]
    counts = np.bincount(dst, minlength=n)
    if not (counts == k + 1).all():
        raise RuntimeError("nn-descent returned a ragged neighbour table")
    cand = src.reshape(n, k + 1)
    d = ((X[cand] - X[:, None, :]) ** 2).sum(-1)
    d[cand == np.arange(n)[:, None]] = np.inf  # drop the point itself
    order = np.argsort(d, 1, kind="stable")[:, :k]
    idx = np.take_along_axis(cand, order, 1).astype(np.int64)
    dist = np.take_along_axis(d, order, 1).astype(np.float32)
    return idx, (dist / 2 if metric == "cosine" else np.sqrt(dist))


def _exact_torch(X: np.ndarray, k: int, metric: str, device=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact kNN by blocks of rows, one matrix product and a top-k each, on CUDA when torch
    sees one: what ``nndescent`` means where DGL is not available."""
    import torch

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if metric == "cosine":
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    n = X.shape[0]
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
    sq = Xt.pow(2).sum(1)
    chunk = max(1, min(n, 2**26 // n))  # a block of distances holds at most 2^26 floats (256 MB)
    idx = torch.empty((n, k), dtype=torch.int64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        d = sq[start:stop, None] + sq[None, :] - 2 * (Xt[start:stop] @ Xt.T)
        d[torch.arange(stop - start, device=device), torch.arange(start, stop, device=device)] = (
            float("inf")
        )
        idx[start:stop] = d.topk(k, dim=1, largest=False, sorted=True).indices.cpu()
    idx = idx.numpy()
    d = ((X[idx] - X[:, None, :]) ** 2).sum(-1)  # exact distances of the pairs found, as nndescent
    order = np.argsort(d, 1, kind="stable")
    idx, d = np.take_along_axis(idx, order, 1), np.take_along_axis(d, order, 1).astype(np.float32)
    return idx, (d / 2 if metric == "cosine" else np.sqrt(d))
