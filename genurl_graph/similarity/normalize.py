"""Per-node normalisation of input distances (UMAP style), the t-kernel and the fuzzy union."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def t_kernel(d2, nu: float):
    """Student-t similarity kappa_nu(d2) = (1 + d2/nu)^(-(nu+1)/2); near exp(-d2/2) for large nu."""
    return np.power(1.0 + np.asarray(d2, dtype=np.float64) / nu, -(nu + 1.0) / 2.0)


def smooth_knn(dist: np.ndarray, nu: float = 100.0, n_iter: int = 64) -> np.ndarray:
    """Conditional similarities p_{j|i} of each row's k neighbours from their distances (n, k).

    rho_i = distance to the nearest neighbour; sigma_i by bisection so that
    sum_j kappa_nu((d_ij - rho_i) / sigma_i) = log2(k); p_{j|i} = kappa_nu(d~_ij).
    """
    dist = np.asarray(dist, dtype=np.float64)
    n, k = dist.shape
    target = np.log2(max(k, 2))
    rho = np.where(np.isfinite(dist[:, 0]), dist[:, 0], 0.0)
    excess = np.maximum(dist - rho[:, None], 0.0)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    sigma = np.ones(n)
    for _ in range(n_iter):
        total = t_kernel(excess / sigma[:, None], nu).sum(1)
        too_big = total > target  # kernel too wide: shrink sigma
        hi = np.where(too_big, sigma, hi)
        lo = np.where(too_big, lo, sigma)
        sigma = np.where(np.isinf(hi), sigma * 2, (lo + hi) / 2)
    mean_d = excess.mean()
    sigma = np.maximum(sigma, 1e-3 * max(mean_d, 1e-12))
    return t_kernel(excess / sigma[:, None], nu)


def fuzzy_union(P: sp.spmatrix) -> sp.csr_matrix:
    """Symmetrise conditional similarities: P_ij = p_{j|i} + p_{i|j} - p_{j|i} p_{i|j}."""
    P = sp.csr_matrix(P)
    Pt = P.T.tocsr()
    out = (P + Pt - P.multiply(Pt)).tocsr()
    out.eliminate_zeros()
    return out


def average(P: sp.spmatrix) -> sp.csr_matrix:
    """Symmetrise conditional similarities as t-SNE does: P_ij = (p_{j|i} + p_{i|j}) / 2, on
    the fuzzy union's edges (a pair that only one end chose keeps half its weight, not all)."""
    P = sp.csr_matrix(P)
    out = ((P + P.T.tocsr()) * 0.5).tocsr()
    out.eliminate_zeros()
    return out


def rows_to_csr(idx: np.ndarray, vals: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """An (n, k) neighbour table as a CSR matrix."""
    n, k = idx.shape
    return sp.csr_matrix(
        (vals.ravel().astype(np.float32), idx.ravel(), np.arange(0, n * k + 1, k)),
        shape=(n, n_cols),
    )
