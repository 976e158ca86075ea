"""P_X objects: input similarities held as a sparse (n x n) matrix, apart from the optimiser.

As in openTSNE's ``affinity.py``, an affinity is built once from the input (static similarity).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..graphs.knn import knn_graph
from .normalize import average, fuzzy_union, rows_to_csr, smooth_knn


class Affinity:
    """Input similarities P (CSR, symmetric, values in (0, 1]); the engine pulls along its edges."""

    def __init__(self, P: sp.spmatrix):
        P = sp.csr_matrix(P, dtype=np.float32)
        # setdiag on a large CSR without a diagonal would copy it to insert zeros
        if P.diagonal().any():
            P.setdiag(0)
        P.eliminate_zeros()
        if P.nnz == 0:
            raise InputError("the input similarity has no edges")
        self.P = P

    @property
    def num_nodes(self) -> int:
        return self.P.shape[0]

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(src, dst, P_ij) of every non-zero, both directions of a symmetric pair."""
        coo = self.P.tocoo()
        return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float32)


class FeatureAffinity(Affinity):
    """P from the kNN graph of feature vectors, symmetrised by fuzzy union.

    ``X`` (n, f) dense or sparse; ``metric`` cosine (bag-of-words) or euclidean. ``weights``:
    ``"smooth"`` gives p_{j|i} by rho/sigma normalisation and the t-kernel nu (UMAP style);
    ``"binary"`` gives every kNN pair p = 1 (better when k is small and neighbours are clean).
    ``method``: ``"exact"`` kNN, or ``"nndescent"`` (approximate, DGL; for large n).
    ``keep_conditional``: keep p_{j|i} (``conditional``, n x k values) for one call of
    :meth:`averaged`; otherwise only P is kept.
    """

    def __init__(
        self,
        X,
        k: int = 15,
        metric: str = "cosine",
        nu: float = 100.0,
        weights: str = "smooth",
        method: str = "exact",
        keep_conditional: bool = False,
    ):
        if weights not in ("smooth", "binary"):
            raise ValueError(f"unknown weights {weights!r}: smooth or binary")
        self.k, self.metric, self.nu, self.weights = k, metric, nu, weights
        idx, dist = knn_graph(X, k, metric, method=method)
        p = smooth_knn(dist, nu) if weights == "smooth" else np.ones_like(dist)
        conditional = rows_to_csr(idx, p, X.shape[0])  # p_{j|i}, row i's k neighbours
        super().__init__(fuzzy_union(conditional))
        self.conditional = conditional if keep_conditional else None

    def averaged(self) -> Affinity:
        """The same neighbours' P symmetrised by averaging, t-SNE's (p_{j|i} + p_{i|j}) / 2,
        instead of the fuzzy union: the same edges, those that only one end chose at half
        weight. It needs ``keep_conditional=True`` and uses up p_{j|i} (n x k values that
        nothing else needs: ~8 MB that a fitted model's ``affinity_`` would otherwise carry at
        70,000 points), so it can be called once."""
        if self.conditional is None:
            raise RuntimeError(
                "averaged() needs FeatureAffinity(..., keep_conditional=True), once: p_{j|i} "
                "is not kept otherwise, and released after the call"
            )
        out = Affinity(average(self.conditional))
        self.conditional = None
        return out


def random_walks(
    adj: sp.csr_matrix, walks_per_node: int, walk_length: int, rng: np.random.Generator
) -> np.ndarray:
    """``walks_per_node`` random walks from every node with an edge (DeepWalk), as a
    (walk_length, walks) array of node ids (int32 below 2^31 nodes): one row per step.

    Each step goes from i to j with probability w_ij / sum_k w_ik (the edge weights; uniform
    over the neighbours when all weights are equal, drawn then without the weights' prefix sums)."""
    adj = sp.csr_matrix(adj)
    n = adj.shape[0]
    indptr, indices = adj.indptr, adj.indices
    deg = np.diff(indptr)
    weighted = adj.nnz > 0 and adj.data.min() != adj.data.max()
    if weighted:  # prefix sums of the weights, each row's block in [cum[start], cum[end])
        cum = np.concatenate([[0.0], np.cumsum(adj.data, dtype=np.float64)])
    starts = np.repeat(np.arange(n), walks_per_node)
    starts = starts[deg[starts] > 0]
    path = np.empty((walk_length, len(starts)), dtype=np.int32 if n < 2**31 else np.int64)
    path[0] = starts
    del starts
    for t in range(1, walk_length):
        cur = path[t - 1]
        d = deg[cur]
        if weighted:
            lo, hi = cum[indptr[cur]], cum[indptr[cur + 1]]
            step = np.searchsorted(cum, lo + rng.random(len(cur)) * (hi - lo), side="right") - 1
            step = np.clip(step, indptr[cur], np.maximum(indptr[cur + 1] - 1, indptr[cur]))
        else:
            step = indptr[cur] + (rng.random(len(cur)) * np.maximum(d, 1)).astype(np.int64)
        path[t] = np.where(d > 0, indices[np.minimum(step, len(indices) - 1)], cur)
    return path


def transition_pmi(adj: sp.spmatrix, exponent: float = 0.75) -> sp.csr_matrix:
    """The closed-form structural similarity that a one-step skip-gram factorises (ProNE's
    sparse matrix, LINE's objective): on each edge, M_ij = log p_{j|i} - log q_j, with
    p_{j|i} = w_ij / sum_k w_ik the weighted transition probability and q_j proportional to
    (sum_i p_{j|i})^``exponent`` (word2vec's negative-sampling distribution). No sampling
    noise; same sparsity as the graph. Entries may be negative (a hub's weak links)."""
    A = sp.csr_matrix(adj, dtype=np.float64)
    A.eliminate_zeros()
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    deg = np.asarray(A.sum(1)).ravel()
    p = A.data / deg[rows]
    q = np.bincount(A.indices, weights=p, minlength=A.shape[1]) ** exponent
    q /= q.sum()
    M = sp.csr_matrix(
        (np.log(p) - np.log(q[A.indices]), A.indices.copy(), A.indptr.copy()), shape=A.shape
    )
    return M.astype(np.float32)


def _walk_degrees(path: np.ndarray, window: int, n: int, chunk: int = 1 << 22) -> np.ndarray:
    """Row sums of the symmetric co-occurrence counts (pairs within ``window`` steps, i != j),
    from the walks alone, a slice of walks at a time."""
    L, W = path.shape
    R = np.zeros(n, dtype=np.float64)
    cols = max(chunk // L, 1)
    for j in range(0, W, cols):
        part = path[:, j : j + cols]
        for w in range(1, min(window, L - 1) + 1):
            r, c = part[:-w].ravel(), part[w:].ravel()
            keep = r != c
            R += np.bincount(r[keep], minlength=n)
            R += np.bincount(c[keep], minlength=n)
    return R


def walk_contexts(
    adj: sp.spmatrix,
    walks_per_node: int,
    walk_length: int,
    window: int,
    rng: np.random.Generator,
    shift: float = 5.0,
    k: int = 50,
    context_k: int | None = None,
    block_pairs: int = 1 << 25,
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Shifted positive PMI of random-walk co-occurrence without the full count matrix.

    Equals ``max(positive_pmi(C) - log(shift), 0)`` of :func:`random_walk_cooccurrence`'s C,
    computed for a block of rows at a time (about ``block_pairs`` walk pairs each) from the
    walks and C's row sums, so memory is the walks plus one block, not C (whose non-zeros
    grow to ~2 * walks_per_node * walk_length * window per node on large graphs).
    Returns (the k strongest contexts of each row, values as is; each row's ``context_k``
    strongest contexts (all: None), symmetrised by their union) as CSR matrices."""
    n = adj.shape[0]
    path = random_walks(adj, walks_per_node, walk_length, rng)
    L, W = path.shape
    R = _walk_degrees(path, window, n)
    total = R.sum()
    flat = path.ravel()
    occ = np.zeros(n, dtype=np.int64)  # one step at a time: bincount copies int32 input to int64
    for step in path:
        occ += np.bincount(step, minlength=n)
    occ *= 2 * min(window, L - 1)
    bounds, a, cum = [0], 0, np.cumsum(occ)
    while a < n:  # blocks of consecutive rows, each about block_pairs pairs (at least one row)
        b = int(np.searchsorted(cum, (cum[a - 1] if a else 0) + block_pairs, side="right"))
        a = max(b, a + 1)
        bounds.append(min(a, n))
    del occ, cum
    cap = n if context_k is None else max(context_k, k)
    log_shift = np.log(shift)
    top, ctx = ([], [], []), ([], [], [])
    scan = 1 << 24
    for a, b in zip(bounds[:-1], bounds[1:]):
        pos = []
        for s in range(0, len(flat), scan):
            seg = flat[s : s + scan]
            hit = np.flatnonzero((seg >= a) & (seg < b))
            if len(hit):
                pos.append(hit + s)
        if not pos:
            continue
        pos = np.concatenate(pos)
        t = pos // W
        node = flat[pos].astype(np.int64) - a
        keys = np.empty(len(pos) * 2 * window, dtype=np.int64)
        m = 0
        for o in [o for w in range(1, window + 1) for o in (-w, w)]:
            v = (t >= -o) if o < 0 else (t < L - o)
            c = flat[pos[v] + o * W]
            r = node[v]
            keep = r + a != c
            cnt = int(keep.sum())
            np.multiply(r[keep], n, out=keys[m : m + cnt])
            keys[m : m + cnt] += c[keep]
            m += cnt
            del v, c, r, keep
        del pos, t, node
        keys = keys[:m]
        keys.sort()
        first = np.empty(m, dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        del first
        counts = np.diff(np.append(starts, m))
        keys = keys[starts]
        del starts
        rows = (keys // n + a).astype(np.int32 if n < 2**31 else np.int64)
        cols = (keys % n).astype(rows.dtype)
        del keys
        # as positive_pmi: C_ij * total / (C_i C_j), log, clipped at 0, then shifted
        pmi = counts.astype(np.float64) * total
        del counts
        pmi /= R[rows]
        pmi /= R[cols]
        np.log(pmi, out=pmi)
        keep = pmi > 0
        pmi -= log_shift
        keep &= pmi > 0  # (as positive_pmi, then the shift: both clip at 0 and drop the zeros)
        val, rows, cols = pmi[keep], rows[keep], cols[keep]
        del pmi, keep
        # each row's strongest first, ties in column order (as _top_k_rows): one stable sort of
        # row * span - value (rows are already ascending; values differing by less than about
        # 1e-9 count as ties), 7x faster than a lexsort of the two keys
        span = float(np.ceil(val.max())) + 1.0 if len(val) else 1.0
        order = np.argsort((rows - a) * span - val, kind="stable")
        rows, cols, val = rows[order], cols[order], val[order]
        new_row = np.empty(len(rows), dtype=bool)
        new_row[:1] = True
        np.not_equal(rows[1:], rows[:-1], out=new_row[1:])
        starts = np.flatnonzero(new_row)
        rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.append(starts, len(rows))))
        del new_row, starts
        for out, sel in ((top, rank < k),) + (((ctx, rank < cap),) if cap > k else ()):
            out[0].append(rows[sel].astype(np.int32))
            out[1].append(cols[sel].astype(np.int32))
            out[2].append(val[sel].astype(np.float32))
        del rows, cols, val, order, rank
    del path, flat

    def assemble(parts):
        r, c, v = (
            np.concatenate(p) if p else np.zeros(0, dt)
            for p, dt in zip(parts, (np.int32, np.int32, np.float32))
        )
        for p in parts:
            p.clear()
        M = sp.csr_matrix((v, (r, c)), shape=(n, n))
        return M

    P = assemble(top)
    M = assemble(ctx) if cap > k else P.copy()  # the same entries: one set of lists
    if context_k is not None:
        M = M.maximum(M.T).tocsr()  # symmetric values: the union of both rows' choices
    return P, M


def _top_k_rows(M: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row, each row scaled so its largest is 1."""
    M = sp.csr_matrix(M)
    n = M.shape[0]
    lens = np.diff(M.indptr)
    row_of = np.repeat(np.arange(n), lens)
    order = np.lexsort((-M.data, row_of))
    rank = np.arange(len(order)) - np.repeat(M.indptr[:-1], lens)
    keep = order[rank < k]
    row_max = np.zeros(n, dtype=np.float64)
    np.maximum.at(row_max, row_of, M.data)
    vals = M.data[keep] / row_max[row_of[keep]]
    return sp.csr_matrix((vals, (row_of[keep], M.indices[keep])), shape=M.shape)


class StructureAffinity(Affinity):
    """P from graph structure alone: the edges (weights scaled to at most 1), and, with
    ``walks_per_node > 0``, random-walk co-occurrence within ``window`` steps: its positive PMI
    shifted by log(``shift``) (the shift that word2vec's negatives imply) is kept as ``context``,
    and each node's ``k`` strongest contexts get P = 1, with the edges; fuzzy union.
    """

    def __init__(
        self,
        adj: sp.spmatrix,
        walks_per_node: int = 0,
        walk_length: int = 40,
        window: int = 5,
        k: int = 50,
        shift: float = 5.0,
        seed: int = 0,
        context_budget: int | None = 30_000_000,
    ):
        adj = sp.csr_matrix(adj)
        self.context = None
        if walks_per_node > 0:
            n = adj.shape[0]
            # ``context`` keeps each row's max(k, context_budget / n) strongest contexts: all of
            # them on small graphs, a bounded number (memory O(n k)) on large ones
            context_k = None if context_budget is None else max(k, context_budget // max(n, 1))
            P, self.context = walk_contexts(
                adj,
                walks_per_node,
                walk_length,
                window,
                np.random.default_rng(seed),
                shift=shift,
                k=k,
                context_k=context_k,
            )
            P.data[:] = 1.0
            P = P.maximum((adj > 0).astype(np.float32))
            P = P.maximum(
                P.T
            ).tocsr()  # the fuzzy union of a 0/1 matrix, without its three temporaries
        else:
            P = fuzzy_union(_top_k_rows(adj, adj.shape[0]))
        super().__init__(P)


def precomputed(P, num_nodes: int) -> Affinity:
    """A user's own P_X (as openTSNE's precomputed affinities): an :class:`Affinity`, or an
    (n x n) scipy sparse or dense matrix of similarities in [0, 1] between the rows the encoder
    embeds; its non-zeros are the pulled pairs."""
    if isinstance(P, Affinity):
        P = P.P
    if not sp.issparse(P):
        P = np.asarray(P)
        if P.dtype.kind not in "biuf":
            raise InputError(f"the given affinity must be numbers, got dtype {P.dtype}")
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] != num_nodes:
        raise InputError(
            f"the given affinity must be a ({num_nodes} x {num_nodes}) matrix (one row and "
            f"column per embedded row), got shape {P.shape}"
        )
    values = P.data if sp.issparse(P) else P
    if not np.isfinite(values).all() or (values < 0).any() or (values > 1).any():
        raise InputError("the given affinity's values must be finite and in [0, 1]")
    return Affinity(P)


def combine(*parts: tuple[Affinity, float]) -> Affinity:
    """Weighted fuzzy union of affinities: P = 1 - prod_i (1 - w_i P_i)."""
    keep = None
    for aff, weight in parts:
        term = aff.P * weight
        keep = term if keep is None else keep + term - keep.multiply(term)
    return Affinity(keep)
