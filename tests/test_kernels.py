import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genurl_graph._deps import dgl_available
from genurl_graph.kernels import (
    BACKENDS,
    block_sqdist,
    edge_sqdist,
    resolve_backend,
    triton_available,
)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
needs_triton = pytest.mark.skipif(
    not triton_available(), reason="needs Triton (pip install triton)"
)


def random_case(dtype, seed=0, n=50, E=400, d=16):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=dtype)
    src = torch.randint(0, n - 5, (E,), generator=g)  # the last 5 nodes stay isolated
    dst = torch.randint(0, n - 5, (E,), generator=g)
    src[:10], dst[:10] = 3, 3  # self-loops
    src[10:20], dst[10:20] = 1, 2  # repeated edges
    return z, src, dst


def check_against_reference(backend, dtype, device="cpu", **case):
    """``backend``'s distances and gradients (under random edge weights) equal the reference's."""
    z, src, dst = (t.to(device) for t in random_case(dtype, **case))
    w = torch.rand(len(src), dtype=dtype).to(device)
    z_ref = z.clone().requires_grad_()
    ref = edge_sqdist(z_ref, src, dst, "torch")
    (ref * w).sum().backward()
    z_b = z.clone().requires_grad_()
    out = edge_sqdist(z_b, src, dst, backend)
    (out * w).sum().backward()
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert out.dtype == dtype and z_b.grad.dtype == dtype
    assert torch.allclose(out, ref, atol=tol * 10, rtol=tol)
    assert torch.allclose(z_b.grad, z_ref.grad, atol=tol * 10, rtol=tol)
    assert torch.all(z_b.grad[-5:] == 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "backend", [b for b in BACKENDS if b != "triton" and (b != "dgl" or dgl_available())]
)
def test_backends_match_reference(backend, dtype):
    check_against_reference(backend, dtype)


INTERPRETED = """
import sys
sys.path.insert(0, {tests!r})
import torch
from conftest import planted_edges
from test_kernels import check_against_reference
from genurl_graph import GenURL
for dtype in (torch.float32, torch.float64):
    for d in (1, 16, 130):  # one column; one block of columns; several blocks and a ragged one
        check_against_reference("triton", dtype, d=d)
model = GenURL(dim=4, epochs=2, walks_per_node=2, walk_length=5,
backend="triton").fit(planted_edges()[0])
assert model.history_.backend == "triton" and model.embeddings_.shape == (90, 4)
print("ok")
"""


@needs_triton
def test_triton_matches_reference_in_interpreter():
    """The Triton kernels, run by Triton's interpreter on CPU tensors (no GPU needed); in a
    subprocess, since TRITON_INTERPRET is read when the kernels are defined."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    code = INTERPRETED.format(tests=str(Path(__file__).parent))
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


@needs_cuda
@needs_triton
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [2, 16, 128, 130])
def test_cuda_triton_matches_reference(dtype, d):
    if os.environ.get("TRITON_INTERPRET"):
        pytest.skip("TRITON_INTERPRET is set: the compiled kernels are not in use")
    check_against_reference("triton", dtype, "cuda", d=d)
    check_against_reference("triton", dtype, "cuda", n=5000, E=200_000, d=d, seed=1)


@needs_cuda
def test_engine_trains_on_cuda(sbm):
    from genurl_graph import GenURL

    model = GenURL(dim=4, epochs=3, walks_per_node=2, walk_length=5, device="cuda").fit(sbm[0])
    assert model.history_.backend == ("triton" if triton_available() else "torch")
    assert model.embeddings_.shape == (90, 4) and model.encoder_.weight.device.type == "cuda"


def test_block_sqdist_matches_pairwise():
    z, _, _ = random_case(torch.float64)
    a, b = z[:7].requires_grad_(), z[7:20]
    assert torch.allclose(block_sqdist(a, b), torch.cdist(a, b) ** 2, atol=1e-10)


def test_resolve_backend():
    assert resolve_backend("torch") == "torch"
    assert resolve_backend("auto", "cpu") == ("dgl" if dgl_available() else "spmm")
    with pytest.raises(ValueError, match="unknown kernel backend"):
        resolve_backend("fortran")


@needs_cuda
def test_cuda_auto_backend_matches_cpu():
    z, src, dst = random_case(torch.float32)
    cpu = edge_sqdist(z, src, dst, "torch")
    gpu = edge_sqdist(z.cuda(), src.cuda(), dst.cuda(), "auto").cpu()
    assert torch.allclose(cpu, gpu, atol=1e-4)


def test_engine_runs_where_dgl_cannot_import(monkeypatch, sbm):
    """The GPU machine has no loadable DGL: the engine must fall back to plain torch."""
    import builtins

    from genurl_graph import GenURL, _deps

    real_import = builtins.__import__

    def no_dgl(name, *args, **kwargs):
        if name == "dgl" or name.startswith("dgl."):
            raise ImportError("simulated: DGL built for another torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dgl)
    assert not _deps.dgl_available()
    assert resolve_backend("auto") == "spmm"
    with pytest.raises(ImportError, match="pip install dgl"):
        resolve_backend("dgl")
    model = GenURL(dim=4, epochs=3, walks_per_node=2, walk_length=5).fit(sbm[0])
    assert model.history_.backend == "spmm" and model.embeddings_.shape == (90, 4)


def test_spmm_backend_on_large_passes():
    """auto without DGL takes spmm from 20,000 edges and 64 columns: several blocks, exact."""
    from genurl_graph import kernels

    # several blocks and a ragged one (n^2 > 64 E: no Gram)
    E = kernels.SPMM_BLOCK_FLOATS // 64 * 3 + 77
    check_against_reference("spmm", torch.float64, n=3000, E=E, d=64)
    check_against_reference("spmm", torch.float64, n=200, E=E, d=64)  # the Gram forward


def test_kernels_work_where_triton_cannot_import(monkeypatch):
    """Triton is optional (the gpu extra): without it, auto falls back to torch on CUDA."""
    import builtins

    real_import = builtins.__import__

    def no_triton(name, *args, **kwargs):
        if name == "triton" or name.startswith("triton."):
            raise ImportError("simulated: Triton not installed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_triton)
    assert not triton_available()
    assert resolve_backend("auto", "cuda") == "torch"
    with pytest.raises(ImportError, match="pip install triton"):
        resolve_backend("triton", "cuda")
    check_against_reference("auto", torch.float32)


@needs_triton
def test_triton_refuses_cpu_without_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(ValueError, match="runs on CUDA"):
        resolve_backend("triton", "cpu")
