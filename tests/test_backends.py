"""The package without DGL: the torch GCN, `genurl info`, and DGL kept quiet and out of $HOME."""

import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse.linalg as sp_linalg
import torch
from typer.testing import CliRunner

from genurl_graph import as_graph
from genurl_graph.cli.main import app  # main registers every command (common only makes the app)
from genurl_graph.encoders import GCN


def test_torch_gcn_equals_dgl_graphconv(sbm):
    """The torch GCN computes what dgl.nn.GraphConv did on the graph with self-loops."""
    dgl = pytest.importorskip("dgl")
    from dgl.nn import GraphConv

    edges = np.vstack([sbm[0], [[3, 3], [5, 5]]])  # own loops are dropped, then one added
    graph = as_graph(edges)
    rng = np.random.default_rng(0)
    graph.features = rng.random((graph.num_nodes, 12)).astype(np.float32)
    for dims in ((12, 6), (4, 9)):  # W before or after the sparse product
        enc = GCN(dims[0], 5, hidden=dims[1], layers=2) if dims[0] == 12 else GCN(12, 9, hidden=4)
        adj, x = enc.prepare(graph)
        g = dgl.add_self_loop(dgl.to_bidirected(dgl.remove_self_loop(graph.to_dgl())))
        h_ref = x
        for i, conv in enumerate(enc.convs):
            ref = GraphConv(conv._in_feats, conv._out_feats, allow_zero_in_degree=True)
            ref.load_state_dict(conv.state_dict())
            h_ref = ref(g, h_ref)
            if i < len(enc.acts):
                h_ref = enc.acts[i](h_ref)
        assert torch.allclose(enc((adj, x)), h_ref, atol=1e-5)


def test_gcn_fits_without_dgl(monkeypatch, sbm):
    from genurl_graph import GenURL

    monkeypatch.setenv("GENURL_NO_DGL", "1")
    graph = as_graph(sbm[0])
    graph.features = np.eye(graph.num_nodes, dtype=np.float32)[:, :20]
    model = GenURL(
        dim=4, epochs=3, encoder="gcn", hidden=8, walks_per_node=2, walk_length=5, random_state=0
    ).fit(graph)
    assert model.embeddings_.shape == (90, 4) and np.isfinite(model.embeddings_).all()


def test_info_says_which_backends_and_why(monkeypatch):
    monkeypatch.setenv("GENURL_NO_DGL", "1")
    res = CliRunner().invoke(app, ["info"])
    assert res.exit_code == 0, res.output
    assert "genurl-graph 0.1.0" in res.output and "disabled by GENURL_NO_DGL" in res.output
    assert "spmm" in res.output and "exact, blocked torch" in res.output
    monkeypatch.setenv("GOMP_SPINCOUNT", "1234")  # what this process's libgomp was told
    res = CliRunner().invoke(app, ["info"])
    assert "OpenMP spin 1234 turns" in res.output and "(torch)" in res.output
    monkeypatch.delenv("GENURL_NO_DGL")
    res = CliRunner().invoke(app, ["info"])
    assert res.exit_code == 0 and ("dgl (DGL's u_dot_v" in res.output) == _has_dgl()


def _has_dgl():
    from genurl_graph._deps import dgl_available

    return dgl_available()


def test_dgl_is_quiet_and_leaves_home_alone(tmp_path):
    """Importing the package and then DGL prints no backend message and writes no ~/.dgl."""
    if not _has_dgl():
        pytest.skip("DGL is not available here")
    env = {k: v for k, v in os.environ.items() if k != "DGLBACKEND"}
    env["HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", "import genurl_graph, dgl; from genurl_graph.encoders import GCN"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "backend" not in (proc.stdout + proc.stderr).lower() and not (tmp_path / ".dgl").exists()


def test_openmp_waits_briefly_unless_the_user_says_otherwise():
    """GOMP_SPINCOUNT is set by ``import genurl_graph`` before torch loads libgomp (which reads
    it once), and a user's own value is kept."""
    code = (
        "import os, sys, genurl_graph; print(os.environ['GOMP_SPINCOUNT'], 'torch' in sys.modules)"
    )
    for preset, expected in ((None, "10000 False"), ("300000", "300000 False")):
        env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
        if preset is not None:
            env["GOMP_SPINCOUNT"] = preset
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == expected


def _blas_thread_counts(threadpoolctl) -> set:
    return {i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}


def test_small_blas_products_run_on_one_thread(monkeypatch):
    """The small exact kNN and the spectral start run BLAS on one thread (its idle threads would
    spin for ~0.1 s after, holding the core the layout's second thread needs); a product above
    ONE_BLAS_THREAD_BELOW keeps the BLAS's threads; the limit is lifted after each."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from genurl_graph.encoders import spectral_layout
    from genurl_graph.graphs import knn
    from genurl_graph.similarity import FeatureAffinity

    X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    P = FeatureAffinity(X, k=10, metric="euclidean").P  # scipy's BLAS (ARPACK's) loads below
    spectral_layout(P, 2)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        outside = _blas_thread_counts(threadpoolctl)
        if outside == {1}:
            pytest.skip("this BLAS runs on one thread here")
        seen = []
        dense, eigsh = knn._dense, sp_linalg.eigsh  # _dense: each block's product

        def record(fn):
            return lambda *a, **kw: seen.append(_blas_thread_counts(threadpoolctl)) or fn(*a, **kw)

        monkeypatch.setattr(knn, "_dense", record(dense))
        monkeypatch.setattr(sp_linalg, "eigsh", record(eigsh))
        knn.knn_graph(X, 5, "euclidean")
        spectral_layout(P, 2)
        monkeypatch.setattr(knn, "ONE_BLAS_THREAD_BELOW", 300 * 300 * 8)  # now "large"
        knn.knn_graph(X, 5, "euclidean")
        after = _blas_thread_counts(threadpoolctl)
    assert seen == [{1}, {1}, outside] and after == outside


def test_one_blas_thread_blocks_in_several_threads_restore_the_setting():
    """Blocks that overlap (fits in several threads) share the limit; the last to leave
    restores the user's setting, whatever the order they leave in."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from genurl_graph._deps import one_blas_thread

    np.ones((64, 64)) @ np.ones((64, 64))  # numpy's BLAS is loaded
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        outside = _blas_thread_counts(threadpoolctl)
        if outside == {1}:
            pytest.skip("this BLAS runs on one thread here")
        first, second = one_blas_thread(), one_blas_thread()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)  # the first leaves while the second is inside
        inside = _blas_thread_counts(threadpoolctl)
        second.__exit__(None, None, None)
        assert inside == {1} and _blas_thread_counts(threadpoolctl) == outside


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@needs_cuda
def test_cuda_spmm_knn_gcn_and_view_graph(sbm):
    """The torch replacements of DGL's parts run on CUDA and agree with the CPU."""
    from genurl_graph import GenURL
    from genurl_graph.graphs.knn import _exact_torch, knn_graph
    from genurl_graph.graphs.views import view_graph
    from test_kernels import check_against_reference

    check_against_reference("spmm", torch.float32, "cuda", n=3000, E=200_000, d=64)
    X = np.random.default_rng(0).normal(size=(3000, 16)).astype(np.float32)
    idx, _ = _exact_torch(X, 10, "euclidean", device="cuda")
    assert (idx == knn_graph(X, 10, "euclidean")[0]).mean() > 0.99
    src, dst, p = view_graph(8, 2, device="cuda")
    assert src.device.type == "cuda" and len(src) == 16
    graph = as_graph(sbm[0])
    graph.features = np.random.default_rng(0).random((graph.num_nodes, 12)).astype(np.float32)
    model = GenURL(
        dim=4, epochs=3, encoder="gcn", hidden=8, walks_per_node=2, walk_length=5, device="cuda"
    ).fit(graph)
    assert (
        np.isfinite(model.embeddings_).all()
        and model.encoder_.convs[0].weight.device.type == "cuda"
    )
    Y = GenURL(task="dr", dim=2, epochs=20, device="cuda", random_state=0).fit_transform(X[:500])
    assert Y.shape == (500, 2) and np.isfinite(Y).all()


def test_gpu_check_runs_end_to_end_on_tiny_sizes(tmp_path):
    """benchmarks/gpu_check.sh --tiny: wheel install, tests, kernel benchmark (Triton interpreted),
    reduce and the SBM fit on CPU, then the summary table: the GPU run's plumbing, checked here."""
    import json
    from pathlib import Path

    if _has_dgl():
        pytest.skip(
            "runs in the suite without DGL, as the GPU machine has none (GENURL_NO_DGL=1 to run "
            "it here)"
        )
    pytest.importorskip("triton")
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("building the wheel needs setuptools >= 77 (make install brings it)")
    root = Path(__file__).resolve().parent.parent
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(root),
            "-w",
            str(wheels),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "GPU_CHECK_PYTHON": sys.executable,
        "GPU_CHECK_OUT": str(tmp_path / "out"),
        "GPU_CHECK_WHEELS": str(wheels),
        "GPU_CHECK_BUDGET": "900",
    }
    proc = subprocess.run(
        ["bash", str(root / "benchmarks" / "gpu_check.sh"), "--tiny"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [s["step"] for s in summary["steps"]] == [
        "install",
        "info",
        "cuda-tests",
        "kernels",
        "reduce-data",
        "reduce",
        "ge-sbm",
    ]
    assert summary["ok"] and "GPU check summary" in proc.stdout
    by_step = {s["step"]: s["result"] for s in summary["steps"]}
    assert (
        "triton" in by_step["kernels"]
        and "T@10" in by_step["reduce"]
        and "probe" in by_step["ge-sbm"]
    )
