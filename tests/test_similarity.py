import numpy as np
import scipy.sparse as sp

from genurl_graph.similarity import (
    FeatureAffinity,
    StructureAffinity,
    combine,
    fuzzy_union,
    smooth_knn,
    t_kernel,
)
from genurl_graph.similarity.affinity import random_walks


def test_t_kernel_limits():
    d2 = np.array([0.0, 1.0, 4.0])
    assert np.allclose(t_kernel(d2, 1.0), 1 / (1 + d2))
    assert np.allclose(t_kernel(d2, 1e6), np.exp(-d2 / 2), atol=1e-4)


def test_smooth_knn_hits_log2k():
    rng = np.random.default_rng(0)
    dist = np.sort(rng.random((50, 15)) * 3, axis=1)
    p = smooth_knn(dist, nu=100)
    assert np.allclose(p[:, 0], 1.0)  # the nearest neighbour is at rho: p = 1
    assert np.allclose(p.sum(1), np.log2(15), rtol=1e-3)


def test_fuzzy_union_symmetric_in_unit_interval():
    P = sp.random(30, 30, density=0.2, random_state=0, format="csr")
    U = fuzzy_union(P).toarray()
    assert np.allclose(U, U.T) and U.min() >= 0 and U.max() <= 1
    d = P.toarray()
    assert np.allclose(U, d + d.T - d * d.T)


def test_feature_affinity_keeps_clusters_apart():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 5)), rng.normal(8, 1, (40, 5))])
    aff = FeatureAffinity(X, k=5, metric="euclidean")
    P = aff.P.toarray()
    assert np.allclose(P, P.T) and P.max() <= 1 and np.all(np.diag(P) == 0)
    # neighbours stay within their cluster
    assert P[:40, 40:].sum() == 0


def test_structure_affinity_walks_cover_edges(sbm):
    edges, _ = sbm
    n = edges.max() + 1
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    adj = (adj + adj.T).tocsr()
    plain = StructureAffinity(adj)
    assert (plain.P != 0).sum() == adj.nnz
    walks = StructureAffinity(adj, walks_per_node=5, walk_length=10, window=3, k=20, seed=0)
    assert walks.P.nnz > adj.nnz  # co-occurrence adds context beyond the edges
    assert np.all(walks.P[adj.nonzero()] == 1)
    both = combine((plain, 1.0), (walks, 0.5))
    assert both.P.max() <= 1 and both.P.nnz >= walks.P.nnz


def test_latent_knn_changes_p_only_where_neighbours_changed():
    from genurl_graph.similarity import FeatureAffinity, LatentKNN

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    dyn = LatentKNN(FeatureAffinity(X, k=5, metric="euclidean"), k=4)
    Z = rng.normal(size=(120, 2)).astype(np.float32)
    first = dyn.update(Z).P.copy()
    old = dyn.neighbours.copy()
    Z2 = Z.copy()
    # move three points far away: only their neighbourhoods (and their old neighbours') change
    Z2[:3] += 50.0
    second = dyn.update(Z2).P
    changed = np.flatnonzero((dyn.neighbours != old).any(1))
    assert 0 < len(changed) < 40
    diff = (second - first).tocoo()
    touched = set(changed.tolist())
    rows, cols = diff.row[diff.data != 0], diff.col[diff.data != 0]
    assert len(rows) > 0
    assert all(r in touched or c in touched for r, c in zip(rows, cols))
    assert abs(dyn.update(Z2).P - second).max() == 0  # same embedding: the same P_X


def test_walk_contexts_match_the_full_pmi_in_blocks(sbm):
    """The blocked shifted PPMI equals the one from the full co-occurrence matrix (same walks),
    whatever the block size; a context cap keeps each row's strongest entries, symmetrised."""
    from genurl_graph.similarity.affinity import _top_k_rows, walk_contexts

    edges, _ = sbm
    n = edges.max() + 1
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    adj = (adj + adj.T).tocsr()
    C = random_walk_cooccurrence(adj, 4, 12, 3, np.random.default_rng(1))
    M = positive_pmi(C)
    M.data = np.maximum(M.data - np.log(5.0), 0)
    M.eliminate_zeros()
    for block in (50, 1 << 26):
        P, ctx = walk_contexts(adj, 4, 12, 3, np.random.default_rng(1), k=10, block_pairs=block)
        assert ctx.nnz == M.nnz and abs(ctx - M).max() < 1e-5
        assert P.nnz == _top_k_rows(M, 10).nnz and np.all(P.getnnz(1) <= 10)
    _, capped = walk_contexts(adj, 4, 12, 3, np.random.default_rng(1), k=3, context_k=4)
    assert abs(capped - capped.T).max() == 0 and capped.nnz < M.nnz
    assert abs(capped - M.multiply(capped > 0)).max() < 1e-5  # the kept entries are exact


def random_walk_cooccurrence(
    adj: sp.csr_matrix, walks_per_node: int, walk_length: int, window: int, rng: np.random.Generator
) -> sp.csr_matrix:
    """Counts of (i, j) within ``window`` steps of each other on the same random walks as
    :func:`walk_contexts` takes, as a full sparse matrix: the reference it is checked against."""
    path = random_walks(adj, walks_per_node, walk_length, rng)
    n = adj.shape[0]
    C = sp.csr_matrix((n, n), dtype=np.float32)
    for w in range(1, window + 1):
        r, c = path[:-w].ravel(), path[w:].ravel()
        keep = r != c
        r, c = r[keep], c[keep]
        C = C + sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n, n))
        del r, c, keep
    return (C + C.T).tocsr()


def positive_pmi(C: sp.csr_matrix) -> sp.csr_matrix:
    """PPMI of co-occurrence counts: max(0, log(C_ij C / (C_i C_j))), which discounts hubs
    (what DeepWalk and node2vec factorise implicitly)."""
    C = sp.csr_matrix(C)
    C.sum_duplicates()
    total = C.sum(dtype=np.float64)
    row = np.asarray(C.sum(1, dtype=np.float64)).ravel()
    col = np.asarray(C.sum(0, dtype=np.float64)).ravel()
    pmi = C.data.astype(np.float64) * total  # computed in place, row by row, in C's CSR layout
    pmi /= np.repeat(row, np.diff(C.indptr))
    pmi /= col[C.indices]
    np.log(pmi, out=pmi)
    pmi[pmi < 0] = 0
    M = sp.csr_matrix((pmi, C.indices.copy(), C.indptr.copy()), shape=C.shape)
    M.eliminate_zeros()
    return M
