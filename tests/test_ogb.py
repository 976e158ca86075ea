"""OGB sets through ogb's own DGL loaders, from tiny data sets written in OGB's raw on-disk layout
(csv.gz files, split folder, release marker); nothing is downloaded."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from genurl_graph import GenURL, InputError, datasets
from genurl_graph._deps import dgl_available
from genurl_graph.cli.main import app
from genurl_graph.eval.ogb import ogb_evaluate

N, CLASSES = 60, 3


def _planted(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(CLASSES), N // CLASSES)
    prob = np.where(y[:, None] == y[None, :], 0.3, 0.01)
    edges = np.argwhere(np.triu(rng.random((N, N)) < prob, 1))
    X = (rng.normal(size=(N, 6)) + 2.0 * np.eye(CLASSES, 6)[y]).astype(np.float32)
    return rng, y, edges, X


needs_dgl = pytest.mark.skipif(not dgl_available(), reason="ogb's DGL loaders need DGL")


@pytest.fixture(scope="module")
def ogb_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ogb")
    rng, y, edges, X = _planted()
    perm = rng.permutation(N)
    node_split = {
        "train": np.sort(perm[:30]),
        "valid": np.sort(perm[30:45]),
        "test": np.sort(perm[45:]),
    }
    datasets.write_ogb(
        root,
        "ogbn-arxiv",
        edges,
        N,
        X,
        y,
        node_split,
        extra={"node_year": rng.integers(2000, 2020, (N, 1))},
    )
    order = rng.permutation(len(edges))
    tr, va, te = edges[order[:-20]], edges[order[-20:-10]], edges[order[-10:]]

    def neg(m):  # across blocks
        return np.stack([rng.integers(0, N // CLASSES, m), rng.integers(N // CLASSES, N, m)], 1)

    def part(e, negatives=True):
        d = {"edge": e, "weight": np.ones(len(e), dtype=np.int64), "year": np.full(len(e), 2019)}
        if negatives:
            d["edge_neg"] = neg(200)
        return d

    link_split = {"train": part(tr, False), "valid": part(va), "test": part(te)}
    datasets.write_ogb(root, "ogbl-collab", tr, N, X, split=link_split)
    return root, {
        "y": y,
        "edges": edges,
        "X": X,
        "node_split": node_split,
        "train_edges": tr,
        "link_split": link_split,
    }


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt of ogb to go online or to prompt fails the test."""
    import urllib.request

    def refuse(*a, **k):
        raise AssertionError("tried to go online")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(
        "builtins.input", lambda *a: (_ for _ in ()).throw(AssertionError("prompted"))
    )


def test_missing_set_says_which_files_go_where(tmp_path, no_network):
    with pytest.raises(InputError) as exc:
        datasets.load("ogbn-arxiv", root=tmp_path)
    msg = str(exc.value)
    folder = tmp_path / "ogbn_arxiv"
    for needed in (
        "RELEASE_v1.txt",
        "raw/edge.csv.gz",
        "raw/node-feat.csv.gz",
        "raw/node-label.csv.gz",
        "split/time/train.csv.gz",
        "split/time/test.csv.gz",
    ):
        assert needed in msg
    assert str(folder) in msg and "arxiv.zip" in msg and "online" in msg
    assert list(tmp_path.iterdir()) == []  # ogb was never called: it makes no folder
    with pytest.raises(InputError, match="split/time/train.pt"):
        datasets.load("ogbl-collab", root=tmp_path)
    with pytest.raises(InputError, match="unsupported OGB data set 'ogbn-mag'"):
        datasets.load("ogbn-mag", root=tmp_path)


def test_folder_without_release_marker_or_split_is_refused(tmp_path, ogb_root, no_network):
    root, _ = ogb_root
    shutil.copytree(root / "ogbn_arxiv", tmp_path / "ogbn_arxiv")
    (tmp_path / "ogbn_arxiv" / "RELEASE_v1.txt").unlink()
    with pytest.raises(InputError, match=r"missing in .*ogbn_arxiv/: RELEASE_v1.txt\. "):
        # ogb itself would ask on stdin whether to delete it
        datasets.load("ogbn-arxiv", root=tmp_path)
    (tmp_path / "ogbn_arxiv" / "RELEASE_v1.txt").write_text("v1")
    (tmp_path / "ogbn_arxiv" / "split" / "time" / "valid.csv.gz").unlink()
    with pytest.raises(InputError, match=r"split/time/valid.csv.gz"):
        datasets.load("ogbn-arxiv", root=tmp_path)


@needs_dgl
def test_node_set_loads_through_ogb_embeds_and_evaluates(ogb_root, no_network):
    root, truth = ogb_root
    data = datasets.load("ogbn-arxiv", root=root)
    assert (
        root / "ogbn_arxiv" / "processed" / "dgl_data_processed"
    ).exists()  # ogb's DGL loader ran
    assert data.task == "nodes" and data.metric == "acc" and data.graph.num_nodes == N
    assert data.graph.num_edges == 2 * len(truth["edges"])  # citations, read undirected
    np.testing.assert_allclose(data.features, truth["X"], rtol=1e-6)
    np.testing.assert_array_equal(data.labels, truth["y"])
    for ours, theirs in (("train", "train"), ("val", "valid"), ("test", "test")):
        np.testing.assert_array_equal(data.split[ours], truth["node_split"][theirs])
    again = datasets.load("ogbn-arxiv", root=root)  # now from ogb's processed cache (DGL's format)
    assert (again.graph.adj != data.graph.adj).nnz == 0
    Z = GenURL(dim=16, epochs=30, random_state=0).fit(data.graph).embeddings_
    result = ogb_evaluate(Z, data)
    assert result["evaluator"] == "ogb.nodeproppred.Evaluator('ogbn-arxiv')"
    assert set(result["metrics"]) == {"valid_acc", "test_acc"}
    assert result["metrics"]["test_acc"]["mean"] >= 0.8  # 3 planted classes: chance is 1/3
    # the evaluator's accuracy is the fraction of test nodes right: a multiple of 1/15
    assert (
        abs(
            result["metrics"]["test_acc"]["mean"] * 15
            - round(result["metrics"]["test_acc"]["mean"] * 15)
        )
        < 1e-9
    )


@needs_dgl
def test_link_set_loads_through_ogb_embeds_and_evaluates(ogb_root, no_network):
    root, truth = ogb_root
    data = datasets.load("ogbl-collab", root=root)
    assert data.task == "links" and data.metric == "hits@50" and data.labels is None
    assert data.graph.num_edges == 2 * len(truth["train_edges"])  # only the training edges
    np.testing.assert_array_equal(
        data.split["test"]["edge_neg"], truth["link_split"]["test"]["edge_neg"]
    )
    np.testing.assert_array_equal(data.split["val"]["edge"], truth["link_split"]["valid"]["edge"])
    Z = GenURL(dim=16, epochs=30, random_state=0).fit(data.graph).embeddings_
    result = ogb_evaluate(Z, data)
    assert result["evaluator"] == "ogb.linkproppred.Evaluator('ogbl-collab')"
    assert result["score"] in ("neg_sqdist", "dot", "cosine")
    hits = result["metrics"]["test_hits@50"]["mean"]
    assert 0.5 <= hits <= 1.0  # within-block positives above most of the 200 cross-block negatives
    with pytest.raises(InputError, match="60 nodes"):
        ogb_evaluate(Z[:10], data)


@needs_dgl
def test_cli_demo_and_eval_ogb_agree(tmp_path, ogb_root, no_network):
    root, _ = ogb_root
    runner = CliRunner()
    emb = tmp_path / "emb.npy"
    res = runner.invoke(
        app,
        [
            "demo",
            "--dataset",
            "ogbn-arxiv",
            "--root",
            str(root),
            "--epochs",
            "20",
            "-q",
            "-o",
            str(emb),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "ogb.nodeproppred.Evaluator('ogbn-arxiv')" in res.output and "test_acc" in res.output
    assert np.load(emb).shape[0] == N
    demo_output = res.output
    res = runner.invoke(
        app,
        [
            "eval",
            "ogb",
            str(emb),
            "--dataset",
            "ogbn-arxiv",
            "--root",
            str(root),
            "--json",
            str(tmp_path / "r.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["metric"] == "acc" and r["dataset"] == "ogbn-arxiv"
    test_acc = f"{100 * r['metrics']['test_acc']['mean']:.2f}"
    # the saved embedding scores as the demo's
    assert test_acc in res.output and test_acc in demo_output
    res = runner.invoke(
        app,
        [
            "demo",
            "--dataset",
            "ogbl-ddi",
            "--root",
            str(tmp_path),
            "-q",
            "-o",
            str(tmp_path / "ddi.npy"),
        ],
    )
    assert res.exit_code == 2 and "error:" in res.output and "ogbl_ddi/" in res.output
    assert not (tmp_path / "ddi.npy").exists()


def test_ogb_is_imported_without_its_online_version_check():
    import subprocess
    import sys

    code = (
        "import sys, threading; from genurl_graph import datasets; "
        "datasets.ogb_meta('ogbn-arxiv'); "
        "datasets.import_ogb('ogb.linkproppred'); "
        "print('ogb' in sys.modules, 'outdated' in sys.modules, threading.active_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "False", "1"]  # ogb loaded; no `outdated`, no thread asking PyPI


@pytest.mark.skipif(dgl_available(), reason="checks the message where DGL is missing")
def test_ogb_without_dgl_says_what_to_install(ogb_root):
    with pytest.raises(InputError, match="needs DGL: `pip install dgl"):
        datasets.load("ogbn-arxiv", ogb_root[0])
