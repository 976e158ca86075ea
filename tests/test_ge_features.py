"""GE with node features: each node trained as linked, feature-masked copies."""

import numpy as np

from genurl_graph import GenURL, as_graph
from genurl_graph.similarity.copies import tiled_copies
from genurl_graph.similarity import StructureAffinity


def test_tiled_copies_links_every_two_copies_and_repeats_p():
    from conftest import planted_edges

    edges, _ = planted_edges()
    g = as_graph(edges)
    base = StructureAffinity(g.symmetric())
    n = g.num_nodes
    aff = tiled_copies(base, n, 3)
    assert aff.num_nodes == 3 * n
    assert aff.P.nnz == 3 * base.P.nnz + 6 * n
    u, v = edges[0]
    assert aff.P[u, v] == base.P[u, v] and aff.P[u + 2 * n, v + 2 * n] == base.P[u, v]
    assert aff.P[u, v + n] == 0  # no P between different nodes of different copies
    assert aff.P[7, 7 + n] == 1 and aff.P[7 + 2 * n, 7] == 1 and aff.P[7 + n, 7 + 2 * n] == 1


def test_featured_graph_trains_two_copies_and_embeds_each_node_once(monkeypatch):
    from dataclasses import replace

    from conftest import planted_edges

    from genurl_graph.tasks import ge

    monkeypatch.setattr(ge, "WITH_FEATURES", replace(ge.WITH_FEATURES, copies=2))

    edges, y = planted_edges()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(len(y), 6)) + 3 * np.eye(3)[y].repeat(2, 1)
    model = GenURL(dim=8, epochs=5, random_state=0).fit(edges, features=X)
    n = len(y)
    assert model.affinity_.num_nodes == 2 * n
    assert model.embeddings_.shape == (n, 8)
    assert np.allclose(model.transform(edges, features=X), model.embeddings_, atol=1e-5)


def test_nan_features_are_refused_by_row_not_as_a_diverged_loss():
    import pytest
    import scipy.sparse as sp

    from conftest import planted_edges

    from genurl_graph.errors import InputError

    edges, y = planted_edges()
    X = np.random.default_rng(0).normal(size=(len(y), 4))
    X[5, 2] = np.nan
    with pytest.raises(InputError, match=r"node feature matrix contains NaN or inf .*row 5"):
        GenURL(epochs=2).fit(edges, features=X)
    with pytest.raises(InputError, match=r"NaN or inf \(first in row 5\)"):
        GenURL(epochs=2).fit(edges, features=sp.csr_matrix(X))
    model = GenURL(epochs=2, dim=8).fit(edges, features=np.nan_to_num(X))
    X[5, 2] = np.inf
    with pytest.raises(InputError, match="row 5"):
        model.transform(edges, features=X)


def test_a_featured_graph_of_fewer_nodes_than_k_takes_every_other_node_as_neighbour():
    # the CLI has no --k: a 3-node featured graph used to stop at "3 points are too few for 5"
    edges = np.array([[0, 1], [1, 2]])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    model = GenURL(epochs=3, dim=4, random_state=0).fit(edges, features=X)
    assert model.embeddings_.shape == (3, 4) and np.isfinite(model.embeddings_).all()
    P = model.affinity_.P.toarray()
    assert (P[~np.eye(3, dtype=bool)] > 0).all()  # k capped at n - 1 = 2: all pairs in P_X
