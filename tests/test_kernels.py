import pytest
import torch

from genurl_graph._deps import dgl_available
from genurl_graph.kernels import BACKENDS, block_sqdist, edge_sqdist, resolve_backend


def random_case(dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    n, E, d = 50, 400, 16
    z = torch.randn(n, d, generator=g, dtype=dtype)
    src = torch.randint(0, n - 5, (E,), generator=g)  # the last 5 nodes stay isolated
    dst = torch.randint(0, n - 5, (E,), generator=g)
    src[:10], dst[:10] = 3, 3  # self-loops
    src[10:20], dst[10:20] = 1, 2  # repeated edges
    return z, src, dst


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "dgl" or dgl_available()])
def test_backends_match_reference(backend, dtype):
    z, src, dst = random_case(dtype)
    w = torch.rand(len(src), dtype=dtype)
    z_ref = z.clone().requires_grad_()
    ref = edge_sqdist(z_ref, src, dst, "torch")
    (ref * w).sum().backward()
    z_b = z.clone().requires_grad_()
    out = edge_sqdist(z_b, src, dst, backend)
    (out * w).sum().backward()
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    assert torch.allclose(out, ref, atol=tol * 10, rtol=tol)
    assert torch.allclose(z_b.grad, z_ref.grad, atol=tol * 10, rtol=tol)
    assert torch.all(z_b.grad[-5:] == 0)


def test_block_sqdist_matches_pairwise():
    z, _, _ = random_case(torch.float64)
    a, b = z[:7].requires_grad_(), z[7:20]
    assert torch.allclose(block_sqdist(a, b), torch.cdist(a, b) ** 2, atol=1e-10)


def test_resolve_backend():
    assert resolve_backend("torch") == "torch"
    assert resolve_backend("auto", "cpu") == ("dgl" if dgl_available() else "torch")
    with pytest.raises(ValueError, match="unknown kernel backend"):
        resolve_backend("fortran")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
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
    assert resolve_backend("auto") == "torch"
    with pytest.raises(ImportError, match="pip install dgl"):
        resolve_backend("dgl")
    model = GenURL(dim=4, epochs=3, walks_per_node=2, walk_length=5).fit(sbm[0])
    assert model.history_.backend == "torch" and model.embeddings_.shape == (90, 4)
