import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from genurl_graph import GenURL, InputError, as_graph
from genurl_graph._deps import dgl_available


def small_model(**kw):
    return GenURL(dim=8, epochs=30, lr=0.05, **kw)


def test_accepts_every_graph_type(sbm):
    edges, y = sbm
    n = len(y)
    adj = sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    graphs = [edges, adj + adj.T, nx.from_edgelist(edges.tolist())]
    if dgl_available():
        import dgl
        import torch

        graphs.append(
            dgl.graph((torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1])), num_nodes=n)
        )
    for g in graphs:
        Z = small_model(walks_per_node=2, walk_length=10).fit_transform(g)
        assert Z.shape == (n, 8) and np.isfinite(Z).all()


def test_graph_from_networkx_keeps_string_ids():
    g = as_graph(nx.Graph([("a", "b"), ("b", "c")]))
    assert list(g.ids) == ["a", "b", "c"] and g.num_edges == 4


def test_inductive_transform_with_features(sbm):
    edges, y = sbm
    rng = np.random.default_rng(0)
    X = rng.normal(size=(len(y), 6)) + 3 * np.eye(3)[y].repeat(2, 1)
    model = small_model(k=5).fit(edges, features=X)
    assert model.encoder_name_ == "ppr"
    Z2 = model.transform(edges, features=X)
    assert np.allclose(Z2, model.embeddings_, atol=1e-5)


def test_table_cannot_transform(sbm):
    edges, _ = sbm
    model = small_model(walks_per_node=2, walk_length=5).fit(edges)
    with pytest.raises(InputError, match="transductive"):
        model.transform(edges)


@pytest.mark.parametrize(
    "kw,match", [({"dim": 0}, "dim must be a positive"), ({"task": "xx"}, "unknown task")]
)
def test_bad_parameters(sbm, kw, match):
    with pytest.raises(InputError, match=match):
        GenURL(**kw).fit(sbm[0])


def test_cora_quick_beats_raw_features(cora):
    from genurl_graph.eval import linear_probe

    Z = GenURL(epochs=20).fit_transform(cora.graph)
    acc = linear_probe(Z, cora.labels, cora.split)["metrics"]["accuracy"]["mean"]
    raw = linear_probe(cora.features.toarray(), cora.labels, cora.split)["metrics"]["accuracy"][
        "mean"
    ]
    assert acc > raw + 0.1


def test_same_random_state_same_embedding(sbm):
    edges, y = sbm
    X = np.random.default_rng(0).normal(size=(len(y), 6))
    runs = [
        GenURL(epochs=5, k=3, random_state=7).fit_transform(edges, features=X) for _ in range(2)
    ]
    assert np.array_equal(runs[0], runs[1])
    other = GenURL(epochs=5, k=3, random_state=8).fit_transform(edges, features=X)
    assert not np.array_equal(runs[0], other)


def test_large_structure_only_graphs_train_fewer_epochs_in_larger_batches():
    from genurl_graph.tasks import ge

    def ring(n):
        src = np.arange(n)
        return as_graph(np.stack([src, (src + 1) % n], 1))

    small, large = ge.defaults(ring(1000)), ge.defaults(ring(10 * ge.LARGE))
    assert small == ge.STRUCTURE_ONLY
    assert large.train.batch_size == 2 * 10 * ge.LARGE and small.train.epochs == 0
    assert large.train.epochs == ge.LARGE_EPOCHS
    huge = ge.defaults(ring(100 * ge.LARGE))
    assert huge.train.pool == 32 and small.train.pool == 128
