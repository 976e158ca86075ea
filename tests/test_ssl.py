"""Self-supervised learning: views, the view graph, the task, the CLI."""

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genurl_graph import GenURL
from genurl_graph.cli.main import app
from genurl_graph.errors import InputError
from genurl_graph.graphs.views import ImageViews, graph_edges, view_graph

runner = CliRunner()


def bars(n=48, side=12, seed=0):
    """Two classes of noisy images: a horizontal or a vertical bar at a random place."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 40, (n, side, side)).astype(np.float32)
    y = np.arange(n) % 2
    for i in range(n):
        at = rng.integers(2, side - 3)
        if y[i]:
            X[i, at : at + 2, :] = 255
        else:
            X[i, :, at : at + 2] = 255
    return X, y


def test_views_shape_range_and_seed():
    x = torch.rand(6, 1, 16, 16)
    aug = ImageViews()
    a = aug(x, torch.Generator().manual_seed(3))
    b = aug(x, torch.Generator().manual_seed(3))
    c = aug(x, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.allclose(a, x)


def test_views_identity_when_all_off():
    x = torch.rand(4, 1, 10, 10)
    aug = ImageViews(
        crop=(1.0, 1.0), ratio=(1.0, 1.0), rotate=0.0, shift=0.0, noise=0.0, cutout=0.0
    )
    assert torch.allclose(aug(x, torch.Generator().manual_seed(0)), x, atol=1e-5)


def test_cutout_zeroes_a_square():
    x = torch.ones(8, 1, 10, 10)
    aug = ImageViews(
        crop=(1.0, 1.0),
        ratio=(1.0, 1.0),
        rotate=0.0,
        shift=0.0,
        noise=0.0,
        cutout=1.0,
        cutout_size=0.3,
    )
    out = aug(x, torch.Generator().manual_seed(0))
    assert ((out < 1e-6).flatten(1).sum(1) == 9).all()  # a 3 x 3 hole in every image


def test_view_graph_links_views_and_neighbours():
    src, dst, p = graph_edges(view_graph(4, 2))
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert pairs == {(i, i + 4) for i in range(4)} | {(i + 4, i) for i in range(4)}
    assert torch.all(p == 1)
    links = (torch.tensor([0]), torch.tensor([2]), torch.tensor([0.5]))
    src, dst, p = graph_edges(view_graph(4, 3, links))
    assert len(src) == 4 * 6 + 3 * 2
    w = {(s, d): v for s, d, v in zip(src.tolist(), dst.tolist(), p.tolist())}
    assert w[(0, 2)] == w[(2, 0)] == w[(4, 6)] == w[(10, 8)] == 0.5 and w[(1, 9)] == 1.0


def test_view_graph_is_a_dgl_graph():
    dgl = pytest.importorskip("dgl")
    g = view_graph(5, 2)
    assert isinstance(g, dgl.DGLGraph) and g.num_nodes() == 10 and "p" in g.edata


def test_view_graph_without_dgl_is_the_same_edges(monkeypatch):
    links = (torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([0.5, 0.25]))
    with_dgl = graph_edges(view_graph(5, 3, links))
    monkeypatch.setenv("GENURL_NO_DGL", "1")
    g = view_graph(5, 3, links)
    assert isinstance(g, tuple)
    for a, b in zip(graph_edges(g), with_dgl):
        assert torch.equal(a, b)


def test_ssl_fit_transform_reproducible_and_learns():
    X, _ = bars()
    m1 = GenURL(task="ssl", epochs=4, batch_size=16, random_state=0).fit(X)
    m2 = GenURL(task="ssl", epochs=4, batch_size=16, random_state=0).fit(X)
    F = m1.embeddings_
    assert F.shape == (len(X), m1.encoder_.feature_dim) and np.isfinite(F).all()
    np.testing.assert_array_equal(F, m2.embeddings_)
    np.testing.assert_allclose(m1.transform(X), F, atol=1e-5)
    losses = m1.history_.losses
    assert losses[-1] < losses[0]


def test_ssl_refine_links_latent_neighbours(monkeypatch):
    from genurl_graph.tasks import ssl

    X, _ = bars(32)
    seen, real = [], ssl._ViewStream.batches

    def spy(self, epoch, gen, config):
        for batch in real(self, epoch, gen, config):
            seen.append(
                (
                    epoch,
                    batch[3].clone(),
                    None if self.refiner.neighbours is None else self.refiner.neighbours.copy(),
                )
            )
            yield batch

    monkeypatch.setattr(ssl._ViewStream, "batches", spy)
    m = GenURL(task="ssl", epochs=3, batch_size=16, refine=1, k=3).fit(X)
    assert m.embeddings_.shape[0] == 32 and np.isfinite(m.embeddings_).all()
    first = [p for epoch, p, _ in seen if epoch == 0]
    later = [(p, nb) for epoch, p, nb in seen if epoch >= 1]
    assert first and all(bool((p == 1).all()) for p in first)  # epoch 0: the views' links only
    # then latent neighbours at P = 0.5
    assert later and all(bool((p == 0.5).any()) for p, _ in later)
    assert later[-1][1].shape == (32, 3)


def test_ssl_save_load_round_trip(tmp_path):
    X, _ = bars(24)
    m = GenURL(task="ssl", epochs=1, batch_size=8).fit(X)
    m.save(tmp_path / "m.pt")
    back = GenURL.load(tmp_path / "m.pt")
    np.testing.assert_allclose(back.transform(X), m.transform(X), atol=1e-6)


def test_ssl_bad_input():
    X, _ = bars(8)
    with pytest.raises(InputError, match="flattened 12x12"):
        GenURL(task="ssl", epochs=1).fit(X.reshape(8, -1))
    flat = GenURL(task="ssl", epochs=1, batch_size=4).fit(X.reshape(8, -1), image_shape=(12, 12))
    assert flat.embeddings_.shape[0] == 8
    bad = X.copy()
    bad[3, 0, 0] = np.nan
    with pytest.raises(InputError, match="first: image 3"):
        GenURL(task="ssl").fit(bad)
    with pytest.raises(InputError, match="at least 2 images"):
        GenURL(task="ssl").fit(X[:1])
    with pytest.raises(InputError, match="unknown ssl encoder"):
        GenURL(task="ssl", encoder="resnet").fit(X)
    with pytest.raises(InputError, match="cannot view"):
        GenURL(task="ssl").fit(X.reshape(8, -1), image_shape=(10, 10))


def test_channels_last_images_are_read_as_channels_first():
    X, _ = bars(8)
    rgb_first = np.repeat(X[:, None], 3, axis=1)  # (n, 3, H, W)
    rgb_last = np.ascontiguousarray(rgb_first.transpose(0, 2, 3, 1))  # (n, H, W, 3), as PIL
    a = GenURL(task="ssl", epochs=1, batch_size=4, random_state=0).fit_transform(rgb_first)
    b = GenURL(task="ssl", epochs=1, batch_size=4, random_state=0).fit_transform(rgb_last)
    np.testing.assert_array_equal(a, b)


def test_cli_ssl_then_apply(tmp_path):
    X, y = bars(24)
    np.save(tmp_path / "imgs.npy", X.astype(np.uint8))
    (tmp_path / "y.txt").write_text("\n".join(map(str, y)) + "\n")
    res = runner.invoke(
        app,
        [
            "ssl",
            str(tmp_path / "imgs.npy"),
            "-o",
            str(tmp_path / "f.npy"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--labels",
            str(tmp_path / "y.txt"),
            "--save",
            str(tmp_path / "m.pt"),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "10-NN accuracy" in res.output
    F = np.load(tmp_path / "f.npy")
    res = runner.invoke(
        app,
        [
            "apply",
            str(tmp_path / "m.pt"),
            str(tmp_path / "imgs.npy"),
            "-o",
            str(tmp_path / "g.npy"),
        ],
    )
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose(np.load(tmp_path / "g.npy"), F, atol=1e-5)
    np.save(tmp_path / "flat.npy", X.reshape(len(X), -1))
    np.save(tmp_path / "rgb.npy", np.stack([X] * 3, 1).astype(np.float32))
    for name, says in (("flat.npy", "reshape"), ("rgb.npy", "1-channel images")):
        res = runner.invoke(
            app,
            ["apply", str(tmp_path / "m.pt"), str(tmp_path / name), "-o", str(tmp_path / "h.npy")],
        )
        assert res.exit_code == 2 and says in res.output and "--image-shape" not in res.output, (
            res.output
        )
        assert not (tmp_path / "h.npy").exists()


def test_cli_ssl_errors_write_nothing(tmp_path):
    X, _ = bars(8)
    np.save(tmp_path / "flat.npy", X.reshape(8, -1))
    res = runner.invoke(
        app, ["ssl", str(tmp_path / "flat.npy"), "-o", str(tmp_path / "f.npy"), "-q"]
    )
    assert res.exit_code != 0
    assert "flat.npy" in res.output and "--image-shape 12x12" in res.output
    assert not (tmp_path / "f.npy").exists()
    (tmp_path / "t.csv").write_text("1,2\n")
    res = runner.invoke(app, ["ssl", str(tmp_path / "t.csv"), "-o", str(tmp_path / "f.npy"), "-q"])
    assert res.exit_code != 0 and ".npy or .npz" in res.output
    res = runner.invoke(
        app,
        [
            "ssl",
            str(tmp_path / "flat.npy"),
            "-o",
            str(tmp_path / "f.npy"),
            "-q",
            "--image-shape",
            "12x12",
            "--epochs",
            "1",
            "--batch-size",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output


def test_graph_views_and_view_edges():
    from conftest import planted_edges

    from genurl_graph.graphs import as_graph
    from genurl_graph.graphs.views import graph_views
    from genurl_graph.similarity.copies import with_view_edges
    from genurl_graph.similarity import StructureAffinity

    edges, y = planted_edges()
    X = np.eye(3)[y].astype(np.float32) + 0.1
    g = as_graph(edges, X)
    v1, v2 = graph_views(g, 2, drop_edge=0.5, mask_feature=0.5, seed=0)
    assert v1.num_nodes == g.num_nodes and 0 < v1.adj.nnz < g.symmetric().nnz
    assert (v1.adj != v1.adj.T).nnz == 0  # edges dropped in pairs
    assert v1.features.shape == X.shape and (v1.features == 0).all(0).sum() >= 1
    aff = with_view_edges(StructureAffinity(g.symmetric()), g.num_nodes, 2)
    n = g.num_nodes
    assert aff.num_nodes == 3 * n
    assert aff.P[5, 5 + n] == 1 and aff.P[5 + 2 * n, 5] == 1 and aff.P[5 + n, 5 + 2 * n] == 0
    model = GenURL(epochs=3, random_state=0).fit(edges, features=X, views=1)
    assert model.embeddings_.shape[0] == n and np.isfinite(model.embeddings_).all()
    with pytest.raises(InputError, match="inductive encoder"):
        GenURL(encoder="table", epochs=1).fit(edges, features=X, views=1)
