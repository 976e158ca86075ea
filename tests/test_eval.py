import numpy as np
import pytest

from genurl_graph import as_graph
from genurl_graph.eval import evaluate_links, link_metrics, linear_probe, split_edges


def test_probe_separable_multiclass():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    Z = np.eye(3)[y] * 5 + rng.normal(size=(120, 3))
    res = linear_probe(Z, y, seeds=5)
    assert res["metrics"]["accuracy"]["mean"] > 0.9 and len(res["runs"]) == 5
    shuffled = linear_probe(Z, rng.permutation(y), seeds=2)
    assert shuffled["metrics"]["accuracy"]["mean"] < 0.6


def test_probe_multilabel():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 4)) < 0.3).astype(int)
    y[y.sum(1) == 0, 0] = 1
    Z = y * 3 + rng.normal(size=(200, 4)) * 0.5
    res = linear_probe(Z, y, seeds=2, Cs=(1.0,))
    assert res["task"] == "multilabel"
    assert res["metrics"]["auroc"]["mean"] > 0.9 and res["metrics"]["macro_f1"]["mean"] > 0.7


def test_split_edges_disjoint(sbm):
    g = as_graph(sbm[0])
    train, held = split_edges(g, 0.05, 0.1, seed=0)
    n_und = g.num_edges // 2
    assert train.num_edges // 2 == n_und - len(held["val"][0]) - len(held["test"][0])
    for pos, neg in held.values():
        assert len(pos) == len(neg)
        # held-out edges left the training graph
        assert np.all(train.adj[pos[:, 0], pos[:, 1]] == 0)
        assert np.all(g.adj[neg[:, 0], neg[:, 1]] == 0)  # negatives are non-edges
    assert train.num_nodes == g.num_nodes


def test_link_metrics_known_values():
    m = link_metrics(np.array([3.0, 2.0]), np.array([1.0, 2.5, 0.0]), hits_at=(1,))
    assert m["auc"] == pytest.approx(5 / 6)
    assert m["hits@1"] == pytest.approx(0.5)


def test_evaluate_links_with_oracle(sbm):
    g = as_graph(sbm[0])
    oracle = lambda train, seed: np.eye(3)[sbm[1]] * 10  # noqa: E731  (blocks are the truth)
    edges_before = g.adj.copy()
    res = evaluate_links(g, oracle, seeds=1)
    assert res["metrics"]["auc"]["mean"] > 0.85
    noise = lambda train, seed: np.random.default_rng(seed).normal(size=(train.num_nodes, 3))  # noqa: E731
    # no signal: chance
    assert abs(evaluate_links(g, noise, seeds=1)["metrics"]["auc"]["mean"] - 0.5) < 0.1
    assert (g.adj != edges_before).nnz == 0  # the caller's graph is left as it was
