"""Dimension reduction: the task, its measures, the plot and `genurl reduce`."""

import numpy as np
import pytest
from sklearn.manifold import trustworthiness
from typer.testing import CliRunner

from genurl_graph import GenURL, InputError
from genurl_graph.cli.main import app
from genurl_graph.eval.dr import dr_metrics

runner = CliRunner()


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:600].astype(np.float32), y[:600]


@pytest.fixture(scope="module")
def layout(digits):
    X, _ = digits
    return GenURL(task="dr", epochs=150, random_state=0).fit(X)


def test_free_layout_keeps_neighbourhoods(digits, layout):
    X, y = digits
    Z = layout.embeddings_
    assert Z.shape == (600, 2) and np.isfinite(Z).all()
    m = dr_metrics(X, Z, y, k=10)
    assert m["trustworthiness"] > 0.95 and m["knn_accuracy"] > 0.9
    rand = dr_metrics(X, np.random.default_rng(0).normal(size=Z.shape), y, k=10)
    assert rand["trustworthiness"] < 0.6 and rand["knn_accuracy"] < 0.3


def test_same_seed_same_layout(digits, layout):
    X, _ = digits
    again = GenURL(task="dr", epochs=150, random_state=0).fit_transform(X)
    np.testing.assert_array_equal(again, layout.embeddings_)
    other = GenURL(task="dr", epochs=150, random_state=1).fit_transform(X)
    assert not np.allclose(other, layout.embeddings_)


def test_free_layout_cannot_transform(digits, layout):
    with pytest.raises(InputError, match="transductive"):
        layout.transform(digits[0][:5])


def test_parametric_transforms_new_points(digits):
    X, y = digits
    model = GenURL(task="dr", parametric=True, epochs=30, hidden=64, random_state=0).fit(X[:500])
    np.testing.assert_allclose(model.transform(X[:500]), model.embeddings_, atol=1e-5)
    Znew = model.transform(X[500:])
    assert Znew.shape == (100, 2)
    # new points land next to fitted points of their own class more often than chance
    d = ((Znew[:, None, :] - model.embeddings_[None]) ** 2).sum(-1)
    assert (y[:500][d.argmin(1)] == y[500:]).mean() > 0.5
    with pytest.raises(InputError, match="columns"):
        model.transform(X[:5, :10])


def test_trustworthiness_matches_scikit_learn(digits, layout):
    X, _ = digits
    ours = dr_metrics(X, layout.embeddings_, k=7)["trustworthiness"]
    # ties among integer pixels
    assert ours == pytest.approx(trustworthiness(X, layout.embeddings_, n_neighbors=7), abs=1e-4)


def test_sampled_measures_close_to_exact(digits, layout):
    X, y = digits
    full = dr_metrics(X, layout.embeddings_, y)
    part = dr_metrics(X, layout.embeddings_, y, sample=300)
    assert abs(full["trustworthiness"] - part["trustworthiness"]) < 0.02
    assert -1 <= part["distance_spearman"] <= 1 and 0 <= part["triplet_accuracy"] <= 1


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.ones(50), "2-D"),
        (np.ones((10, 3)), r"too few .* at most 9"),
        (np.ones((0, 3)), "no rows"),
        (np.where(np.eye(40, 4) > 0, np.nan, 1.0), "NaN"),
        (np.array([["a", "b"]] * 30), "numeric"),
    ],
)
def test_bad_data_is_refused(bad, match):
    with pytest.raises(InputError, match=match):
        GenURL(task="dr", epochs=2).fit(bad)


def test_duplicates_and_constant_columns_are_embedded():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(80, 5)), np.ones((80, 2))])  # two constant columns
    X[40:60] = X[0]  # 21 identical points
    Z = GenURL(task="dr", epochs=30).fit_transform(X)
    assert np.isfinite(Z).all()
    spread = np.linalg.norm(Z[40:60] - Z[0], axis=1).max()
    assert spread < np.linalg.norm(Z - Z.mean(0), axis=1).mean()  # duplicates stay together


def test_nndescent_knn_agrees_with_exact():
    from genurl_graph.graphs import knn_graph

    pytest.importorskip("dgl")
    X = np.random.default_rng(0).normal(size=(1500, 8)).astype(np.float32)
    exact, d_exact = knn_graph(X, 10, "euclidean")
    approx, d_approx = knn_graph(X, 10, "euclidean", method="nndescent")
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(exact, approx)])
    assert recall > 0.9 and (d_approx >= d_exact[:, :1] - 1e-5).all()


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_nndescent_without_dgl_is_the_exact_knn(monkeypatch, metric):
    """Where DGL is not available, method="nndescent" gives the exact kNN (torch, blocked)."""
    from genurl_graph.graphs import knn_graph

    X = np.random.default_rng(1).normal(size=(400, 6)).astype(np.float32)
    exact, d_exact = knn_graph(X, 7, metric)
    monkeypatch.setenv("GENURL_NO_DGL", "1")
    idx, dist = knn_graph(X, 7, metric, method="nndescent")
    assert (idx == exact).mean() > 0.99 and np.allclose(dist, d_exact, atol=1e-4)


def test_cli_reduce_with_labels_and_plot(tmp_path, digits):
    X, y = digits
    np.save(tmp_path / "x.npy", X[:300])
    (tmp_path / "y.txt").write_text("\n".join(map(str, y[:300])) + "\n")
    res = runner.invoke(
        app,
        [
            "reduce",
            str(tmp_path / "x.npy"),
            "-o",
            str(tmp_path / "z.csv"),
            "--labels",
            str(tmp_path / "y.txt"),
            "--plot",
            str(tmp_path / "z.png"),
            "--epochs",
            "50",
            "-q",
            "--json",
            str(tmp_path / "r.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "trustworthiness" in res.output
    assert (tmp_path / "z.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((tmp_path / "z.csv").read_text().splitlines()) >= 300


def test_cli_reduce_parametric_save_then_apply(tmp_path, digits):
    X, _ = digits
    (tmp_path / "x.csv").write_text(
        "a,b,c\n" + "\n".join(",".join(f"{v:g}" for v in row[:3]) for row in X) + "\n"
    )
    res = runner.invoke(
        app,
        [
            "reduce",
            str(tmp_path / "x.csv"),
            "-o",
            str(tmp_path / "z.npy"),
            "--parametric",
            "--epochs",
            "20",
            "--save",
            str(tmp_path / "m.pt"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    np.save(tmp_path / "new.npy", X[:7, :3])
    res = runner.invoke(
        app,
        [
            "apply",
            str(tmp_path / "m.pt"),
            str(tmp_path / "new.npy"),
            "-o",
            str(tmp_path / "znew.npy"),
        ],
    )
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose(
        np.load(tmp_path / "znew.npy"), np.load(tmp_path / "z.npy")[:7], atol=1e-4
    )
    np.save(tmp_path / "wide.npy", X[:7, :4])  # a column too many: the error names the file
    res = runner.invoke(
        app,
        [
            "apply",
            str(tmp_path / "m.pt"),
            str(tmp_path / "wide.npy"),
            "-o",
            str(tmp_path / "w.npy"),
        ],
    )
    assert res.exit_code == 2 and "wide.npy: the model was fitted on 3 columns, got 4" in res.output
    assert not (tmp_path / "w.npy").exists()


def test_cli_reduce_bad_input_writes_nothing(tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n3,oops\n")
    res = runner.invoke(app, ["reduce", str(tmp_path / "x.csv"), "-o", str(tmp_path / "z.npy")])
    assert res.exit_code == 2 and "x.csv:2" in res.output
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(40, 3)))
    (tmp_path / "y.txt").write_text("1\n2\n")
    res = runner.invoke(
        app,
        [
            "reduce",
            str(tmp_path / "x.npy"),
            "-o",
            str(tmp_path / "z.npy"),
            "--labels",
            str(tmp_path / "y.txt"),
        ],
    )
    assert res.exit_code == 2 and "labels" in res.output
    assert not (tmp_path / "z.npy").exists()


def test_refine_refreshes_p_from_the_layout(digits, layout):
    X, y = digits
    model = GenURL(task="dr", epochs=150, refine=50, random_state=0).fit(X)
    assert model.affinity_.P.nnz > layout.affinity_.P.nnz  # latent neighbours joined the static P_X
    assert dr_metrics(X, model.embeddings_, y, k=10)["knn_accuracy"] > 0.9


def test_small_layout_trains_on_one_thread_and_restores_the_count():
    import torch

    from genurl_graph.tasks import dr

    X = np.random.default_rng(0).normal(size=(200, 5)).astype(np.float32)
    assert dr.build(GenURL(task="dr"), X).threads == 1  # a small free layout: one thread
    assert dr.build(GenURL(task="dr", parametric=True), X).threads is None
    before = torch.get_num_threads()
    seen = []
    GenURL(task="dr", epochs=2, progress=lambda *a: seen.append(torch.get_num_threads())).fit(X)
    assert seen == [1, 1] and torch.get_num_threads() == before


def test_free_layout_keeps_a_cluster_whole():
    """The default free layout (form "sne") lays one Gaussian blob out as one piece; the
    pool-only normalized form breaks it into islands (why it is not the default: the Cora demo)."""
    from dataclasses import replace

    from scipy.sparse.csgraph import connected_components
    from scipy.spatial.distance import cdist

    from genurl_graph.tasks import dr

    X = np.random.default_rng(0).normal(size=(300, 10)).astype(np.float32)

    def pieces(Z):  # parts joined by steps of at most 3x the median nearest-neighbour distance
        D = cdist(Z, Z)
        np.fill_diagonal(D, np.inf)
        count, part = connected_components(D < 3 * np.median(D.min(1)), directed=False)
        return count, np.bincount(part).max() / len(Z)

    assert dr.FREE.train.form == "sne"
    # one piece but for a few stragglers (a blob's edge points: 1-8 of 300 with either
    # symmetrisation of P, by seed)
    assert pieces(GenURL(task="dr", epochs=200, random_state=0).fit_transform(X))[1] >= 0.95
    old = dr.FREE
    dr.FREE = replace(old, train=replace(old.train, form="normalized", negatives=1.0, pool=32))
    try:
        assert pieces(GenURL(task="dr", epochs=200, random_state=0).fit_transform(X))[0] > 20
    finally:
        dr.FREE = old


def test_late_phase_pulls_on_the_averaged_p():
    """The free layout's last epochs train on the same kNN's P symmetrised by averaging
    ((p_{j|i} + p_{i|j}) / 2, so a pair only one end chose keeps half its weight): the plan
    carries it, the hook puts its edges in the stream at that epoch, and it moves the layout."""
    import scipy.sparse as sp

    from genurl_graph.model import _switch_hook
    from genurl_graph.similarity import average
    from genurl_graph.tasks import dr

    C = sp.csr_matrix(np.array([[0, 0.8, 0], [0.4, 0, 1.0], [0, 0, 0]], dtype=np.float32))
    assert np.allclose(average(C).toarray(), [[0, 0.6, 0], [0.6, 0, 0.5], [0, 0.5, 0]])

    X = np.random.default_rng(1).normal(size=(120, 6)).astype(np.float32)
    plan = dr.build(GenURL(task="dr", random_state=0), X)
    at, late = plan.late
    assert at == dr.AVERAGE_FROM
    assert plan.affinity.P.nnz == late.P.nnz  # the same edges
    conditional = dr.data_affinity(X, dr.FREE.k, "euclidean", keep_conditional=True).conditional
    assert dr.data_affinity(X, dr.FREE.k, "euclidean").conditional is None  # kept only if asked
    assert np.allclose(late.P.toarray(), average(conditional).toarray())
    assert plan.affinity.conditional is None  # used up: the fitted model does not carry it
    assert (late.P.toarray() <= plan.affinity.P.toarray() + 1e-6).all()  # union >= average
    assert (late.P.toarray() < plan.affinity.P.toarray() - 0.1).any()  # one-sided pairs halved
    assert dr.build(GenURL(task="dr", parametric=True), X).late is None
    assert dr.build(GenURL(task="dr", refine=5), X).late is None  # refreshes rebuild P_X

    class Stream:
        edges = None

        def set_edges(self, edges):
            self.edges = edges

    stream = Stream()
    hook = _switch_hook((0.7, late), 10, stream)
    assert [hook(e, None) for e in range(10)] == [False] * 7 + [True, False, False]
    assert np.array_equal(stream.edges[2], late.edges()[2])

    Z = GenURL(task="dr", epochs=20, random_state=0).fit_transform(X)
    old = dr.AVERAGE_FROM
    dr.AVERAGE_FROM = 2.0  # never
    try:
        assert not np.array_equal(Z, GenURL(task="dr", epochs=20, random_state=0).fit_transform(X))
    finally:
        dr.AVERAGE_FROM = old


def test_nan_rows_are_counted_across_the_check_blocks(monkeypatch):
    from genurl_graph.tasks import _data

    monkeypatch.setattr(_data, "BLOCK", 7)  # rows are checked by blocks of this many
    X = np.ones((50, 3))
    X[[9, 30, 31], 1] = np.nan
    with pytest.raises(InputError, match=r"in 3 rows \(first: row 9\)"):
        _data.check_finite(X, "the data")
    X[[9, 30], 1] = 1.0
    with pytest.raises(InputError, match=r"in 1 row \(first: row 31\)"):
        GenURL(task="dr").fit(X)
