"""Pictures of embeddings: genurl_graph.eval.plot.plot and `genurl plot`."""

import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from genurl_graph import InputError
from genurl_graph.cli.main import app
from genurl_graph.eval.plot import plot


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    return (rng.normal(size=(90, 8)) + 6 * np.eye(3, 8)[y]).astype(np.float32), y


def test_plot_draws_the_layout_at_the_asked_size(tmp_path, blobs):
    Z, y = blobs
    res = plot(Z, tmp_path / "z.png", y, pixels=(400, 300))
    assert png_size(tmp_path / "z.png") == (400, 300)
    assert res.layout.shape == (90, 2) and res.kind == "classes"
    # what was drawn is the layout, row for row
    np.testing.assert_array_equal(res.points, res.layout)
    centres = np.array([res.layout[y == c].mean(0) for c in range(3)])
    spread = max(np.linalg.norm(res.layout[y == c] - centres[c], axis=1).mean() for c in range(3))
    assert (
        min(np.linalg.norm(centres[a] - centres[b]) for a, b in ((0, 1), (0, 2), (1, 2)))
        > 2 * spread
    )


def test_plot_two_columns_as_they_are_and_numbers_on_a_colour_bar(tmp_path):
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(50, 2))
    res = plot(Z, tmp_path / "n.png", rng.random(50), pixels=(300, 300))
    assert res.kind == "numbers"
    np.testing.assert_array_equal(res.layout, Z)
    np.testing.assert_array_equal(res.points, Z)
    labels = np.array([None] * 10 + ["a"] * 40, dtype=object)  # unlabelled rows are drawn too
    res = plot(Z, tmp_path / "c.png", labels, pixels=(300, 200))
    assert res.kind == "classes" and png_size(tmp_path / "c.png") == (300, 200)
    np.testing.assert_array_equal(res.points, Z)
    with pytest.raises(InputError, match="3 labels for 50 points"):
        plot(Z, tmp_path / "x.png", [1, 2, 3])
    with pytest.raises(InputError, match="PNG"):
        plot(Z, tmp_path / "x.jpg")
    assert not (tmp_path / "x.png").exists()


def test_a_few_wide_points_are_laid_out_too(tmp_path):
    # fewer points than DR's k: every other point is a neighbour (`genurl plot` has no --k)
    Z = np.random.default_rng(2).normal(size=(4, 5))
    res = plot(Z, tmp_path / "few.png", pixels=(200, 200))
    assert res.layout.shape == (4, 2) and np.isfinite(res.layout).all()
    with pytest.raises(InputError, match="at least 2 points"):
        plot(Z[:1], tmp_path / "one.png")


def test_cli_plot(tmp_path, blobs):
    Z, y = blobs
    np.save(tmp_path / "emb.npy", Z)
    (tmp_path / "emb.nodes.txt").write_text("\n".join(f"n{i}" for i in range(90)) + "\n")
    (tmp_path / "labels.txt").write_text("\n".join(f"n{i} c{c}" for i, c in enumerate(y)) + "\n")
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "plot",
            str(tmp_path / "emb.npy"),
            "--labels",
            str(tmp_path / "labels.txt"),
            "-o",
            str(tmp_path / "emb.png"),
            "--size",
            "320x240",
            "--epochs",
            "30",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert png_size(tmp_path / "emb.png") == (320, 240) and "classes" in res.output
    (tmp_path / "multi.txt").write_text("n0 a\nn0 b\n")
    for bad, what in (
        (["--labels", str(tmp_path / "multi.txt")], "several labels"),
        (["--size", "big"], "WIDTHxHEIGHT"),
    ):
        res = runner.invoke(
            app, ["plot", str(tmp_path / "emb.npy"), "-o", str(tmp_path / "bad.png"), *bad]
        )
        assert res.exit_code == 2 and what in res.output
    assert not (tmp_path / "bad.png").exists()


def test_plotting_leaves_the_users_matplotlib_backend_and_figures_alone(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a user's choice that plotting must not switch to Agg
    try:
        import matplotlib.pyplot as plt

        figures = plt.get_fignums()
        plot(
            np.random.default_rng(0).normal(size=(30, 2)),
            tmp_path / "p.png",
            labels=np.arange(30) % 3,
        )
        assert matplotlib.get_backend() == "svg" and plt.get_fignums() == figures
        assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        matplotlib.use(before)
