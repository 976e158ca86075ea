"""Spectral starts for a free embedding table: factorise a structural similarity, then
propagate the factors over the graph with a band-pass filter (ProNE's spectral propagation).

The start is a closed form (no sampling noise, a few sparse products per dimension); it is the
embedding of graphs up to 50k nodes, and the GenURL engine refines it (the GKL loss over P_X's
edges) on larger graphs or with ``epochs=N`` (:mod:`genurl_graph.tasks.ge`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .._deps import one_blas_thread


def factor_rows(Z: np.ndarray, dim: int) -> np.ndarray:
    """U sqrt(S) of the SVD of a tall dense (n x d) matrix, from the eigen-decomposition of
    its (d x d) Gram matrix (one product over n instead of a tall SVD): Z V / sqrt(S)."""
    Z = np.asarray(Z, dtype=np.float32)
    G = (Z.T @ Z).astype(np.float64)
    vals, vecs = np.linalg.eigh(G)  # ascending: the largest singular values last
    order = np.argsort(vals)[::-1][:dim]
    s = np.sqrt(np.maximum(vals[order], 0.0))
    keep = s > s.max() * 1e-6 if len(s) and s.max() > 0 else np.zeros(len(s), dtype=bool)
    scale = np.where(keep, 1.0 / np.sqrt(np.where(keep, s, 1.0)), 0.0)  # U sqrt(S) = Z V S^-1/2
    out = Z @ (vecs[:, order] * scale).astype(np.float32)
    if out.shape[1] < dim:
        out = np.hstack([out, np.zeros((out.shape[0], dim - out.shape[1]), dtype=np.float32)])
    return out


def chebyshev_filter(
    adj: sp.spmatrix, Z: np.ndarray, order: int = 10, mu: float = 0.2, theta: float = 0.5
) -> np.ndarray:
    """ProNE's spectral propagation: Z filtered by g(L) = exp(-theta ((L - mu I)^2 - 1) / 2)
    (a Gaussian band-pass around eigenvalue ``mu`` of the random-walk Laplacian
    L = I - D^-1 (A + I)), expanded in ``order`` Chebyshev terms with modified Bessel
    coefficients, then one step over A + I: (A + I)(Z - g(L) Z). Cost: 2 ``order`` sparse
    products with an (n x d) block."""
    from scipy.special import iv

    Z = np.asarray(Z, dtype=np.float32)
    if order <= 1:
        return Z
    n = adj.shape[0]
    A = sp.csr_matrix(adj, dtype=np.float32) + sp.eye(n, dtype=np.float32, format="csr")
    deg = np.asarray(A.sum(1)).ravel()
    DA = sp.diags((1.0 / deg).astype(np.float32)) @ A
    M = ((1.0 - mu) * sp.eye(n, dtype=np.float32, format="csr") - DA).tocsr()  # L - mu I
    x0 = Z
    x1 = 0.5 * (M @ (M @ Z)) - Z
    conv = iv(0, theta) * x0 - 2 * iv(1, theta) * x1
    for i in range(2, order):
        x2 = (M @ (M @ x1) - 2 * x1) - x0
        conv += (2 if i % 2 == 0 else -2) * iv(i, theta) * x2
        x0, x1 = x1, x2
    return (A @ (Z - conv)).astype(np.float32)


def propagated_start(
    M: sp.spmatrix,
    adj: sp.spmatrix,
    dim: int,
    seed: int = 0,
    radius: float = 2.0,
    order: int = 10,
    mu: float = 0.0,
) -> np.ndarray:
    """The table's start for a structure-only graph: the rank-``dim`` factors U sqrt(S) of the
    similarity ``M`` (randomized SVD), spectrally propagated over ``adj``
    (:func:`chebyshev_filter`), re-factorised, and each row scaled to norm ``radius``. With
    ``order=1`` the propagation is skipped (the plain spectral start).

    ``mu = 0`` centres the filter on the smoothest eigenvectors (a low-pass) rather than ProNE's
    0.2: macro-F1 / auROC PPI 0.2033 / 0.7142 against 0.2003 / 0.7123, BlogCatalog 0.2505 /
    0.7690 against 0.2474 / 0.7677, DBLP 0.0583 / 0.7236 against 0.0581 / 0.7232
    (docs/structure.md)."""
    from threadpoolctl import threadpool_limits

    # one BLAS thread: the dense steps are small (n x (dim + 10) blocks) and the sparse products
    # single-threaded anyway; OpenBLAS's threads made them 10x slower on a busy 2-core machine
    # (PPI 3.0 s -> 0.29 s)
    with threadpool_limits(limits=1, user_api="blas"):
        Z = spectral_init(M, dim, seed, radius=1.0)
        if order > 1:
            Z = factor_rows(chebyshev_filter(adj, Z, order, mu=mu), dim)
    return (radius * Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)).astype(
        np.float32
    )


def spectral_init(M: sp.spmatrix, dim: int, seed: int = 0, radius: float = 2.0) -> np.ndarray:
    """A start for a free table from a similarity matrix: U sqrt(S) of its rank-``dim``
    randomized SVD, rows scaled to norm ``radius`` (as UMAP starts from a spectral layout).
    Computed in float32 (the SVD keeps ``M``'s dtype): half the memory of a float64 copy of M
    and of the (n x (dim + 10)) range sketches, which is what bounds it on large graphs."""
    from sklearn.utils.extmath import randomized_svd

    dim_svd = min(dim, min(M.shape) - 1)
    M = M if sp.isspmatrix_csr(M) and M.dtype == np.float32 else sp.csr_matrix(M, dtype=np.float32)
    U, S, _ = randomized_svd(M, dim_svd, n_iter=5, random_state=seed)
    del _
    Z = U * np.sqrt(S)
    del U
    if dim_svd < dim:
        Z = np.hstack([Z, np.zeros((Z.shape[0], dim - dim_svd), dtype=Z.dtype)])
    # A row the SVD leaves at 0 (M empty there: e.g. no context above the PMI shift on a tiny
    # graph) starts in a random direction: a table of equal rows gets no gradient and stays so.
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    empty = norms[:, 0] <= 1e-12
    if empty.any():
        Z[empty] = np.random.default_rng(seed).normal(size=(int(empty.sum()), dim)).astype(Z.dtype)
        norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return (radius * Z / np.maximum(norms, 1e-12)).astype(np.float32)


def spectral_layout(P: sp.spmatrix, dim: int, seed: int = 0, scale: float = 10.0) -> np.ndarray:
    """A start for a layout from a similarity graph (as UMAP's): the eigenvectors 2..dim+1 of
    D^-1/2 P D^-1/2 (the smoothest non-constant ones), scaled so the largest |coordinate| is
    ``scale``, plus a little noise to break ties. Falls back to a random start when the
    eigensolver does not converge (e.g. a graph in many pieces)."""
    from scipy.sparse.linalg import eigsh

    rng = np.random.default_rng(seed)
    n = P.shape[0]
    P = sp.csr_matrix(P, dtype=np.float64)
    deg = np.asarray(P.sum(1)).ravel()
    inv = sp.diags(1 / np.sqrt(np.maximum(deg, 1e-12)))
    M = inv @ P @ inv
    try:
        if n <= dim + 2:
            raise ValueError("too few points")
        v0 = rng.random(n)
        # ARPACK's BLAS calls are vector-sized: one thread, which also keeps the start the same
        # whatever the BLAS's threads (a threaded dot product sums in another order)
        with one_blas_thread():
            vals, vecs = eigsh(M, k=dim + 1, which="LA", v0=v0, tol=1e-4, maxiter=n * 5)
        Z = vecs[:, np.argsort(-vals)[1 : dim + 1]]
    except Exception:
        # ArpackNoConvergence, tiny graphs: a random start is what UMAP falls back to too
        Z = rng.uniform(-1, 1, size=(n, dim))
    Z = Z / max(np.abs(Z).max(), 1e-12) * scale
    return (Z + rng.normal(scale=1e-4 * scale, size=Z.shape)).astype(np.float32)
