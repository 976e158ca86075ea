"""Structure-only graph embedding: edge weights count, the closed-form start, the filter."""

import numpy as np
import scipy.sparse as sp

from genurl_graph import GenURL
from genurl_graph.encoders.spectral import chebyshev_filter, factor_rows, propagated_start
from genurl_graph.eval import linear_probe
from genurl_graph.similarity.affinity import random_walks, transition_pmi


def weight_only_sbm(n_per=60, blocks=3, p=0.15, heavy=10.0, seed=0):
    """Every pair is an edge with the same probability p, inside or across communities, so the
    topology alone says nothing; edges inside a community weigh ``heavy``, the others 1."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(blocks), n_per)
    n = len(y)
    upper = np.triu(rng.random((n, n)) < p, 1)
    u, v = np.nonzero(upper)
    w = np.where(y[u] == y[v], heavy, 1.0)
    adj = sp.coo_matrix((np.r_[w, w], (np.r_[u, v], np.r_[v, u])), shape=(n, n)).tocsr()
    return adj, y


def _probe(Z, y):
    return linear_probe(Z, y, seeds=3)["metrics"]["accuracy"]["mean"]


def test_weights_carry_the_communities():
    adj, y = weight_only_sbm()
    weighted = GenURL(dim=16, random_state=0).fit_transform(adj)
    binary = GenURL(dim=16, random_state=0).fit_transform((adj > 0).astype(np.float32))
    acc_w, acc_b = _probe(weighted, y), _probe(binary, y)
    assert acc_w >= 0.9, acc_w
    assert acc_b <= 0.6, acc_b  # chance is 1/3: without the weights there is nothing to find


def test_weighted_walks_follow_weights():
    # node 0 links to 1 (weight 1) and 2 (weight 9): 90 % of first steps go to 2
    adj = sp.csr_matrix(np.array([[0, 1, 9], [1, 0, 0], [9, 0, 0]], dtype=np.float32))
    path = random_walks(adj, 4000, 2, np.random.default_rng(0))
    first = path[1][path[0] == 0]
    assert abs((first == 2).mean() - 0.9) < 0.03
    assert set(np.unique(path[1][path[0] == 1])) == {0}


def test_transition_pmi_closed_form():
    adj = sp.csr_matrix(np.array([[0, 1, 3], [1, 0, 0], [3, 0, 0]], dtype=np.float64))
    M = transition_pmi(adj, exponent=1.0).toarray()
    P = adj.toarray() / adj.toarray().sum(1, keepdims=True)
    q = P.sum(0) / P.sum()
    expect = np.where(adj.toarray() > 0, np.log(np.where(P > 0, P, 1)) - np.log(q)[None, :], 0)
    assert np.allclose(M, expect, atol=1e-6)
    assert (M != 0).sum() == adj.nnz  # the graph's sparsity, no sampling


def test_heavy_tailed_weights_stay_finite():
    adj, y = weight_only_sbm(n_per=30)
    rng = np.random.default_rng(1)
    adj.data = np.exp(rng.uniform(0, np.log(1e4), adj.nnz)).astype(np.float32)  # 1 .. 1e4
    adj = adj.maximum(adj.T).tocsr()
    Z = GenURL(dim=8, random_state=0).fit_transform(adj)
    assert np.isfinite(Z).all() and np.abs(Z).max() > 0


def test_factor_rows_matches_svd():
    Z = np.random.default_rng(0).normal(size=(200, 12)).astype(np.float32)
    U, s, _ = np.linalg.svd(Z, full_matrices=False)
    F = factor_rows(Z, 8)
    ref = U[:, :8] * np.sqrt(s[:8])
    assert np.allclose(np.abs(F), np.abs(ref), atol=1e-3)  # up to each column's sign


def test_filter_keeps_shape_and_start_rows_on_sphere(sbm):
    edges, y = sbm
    n = len(y)
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    adj = (adj + adj.T).tocsr()
    Z = np.random.default_rng(0).normal(size=(n, 6)).astype(np.float32)
    assert chebyshev_filter(adj, Z, 10).shape == (n, 6)
    assert np.array_equal(chebyshev_filter(adj, Z, 1), Z)
    S = propagated_start(transition_pmi(adj), adj, 8, seed=0)
    assert np.allclose(np.linalg.norm(S, axis=1), 2.0, atol=1e-4)
    assert _probe(S, y) >= 0.95  # the start alone finds the planted blocks
