"""Edge-wise kernels: squared distances ||z_u - z_v||^2 over many (u, v) pairs, with gradients.

This is the engine's inner cost. Backends share one signature ``f(z, src, dst) -> (E,)``:

- ``torch``: the reference (gather both endpoints, subtract, autograd); any device.
- ``spmm``: plain torch without the E x d intermediates: the forward from the Gram matrix on
  few rows, else by blocks of edges, the backward one sparse matmul (:class:`_SpmmSqdist`); what
  ``auto`` takes on CPU where DGL is not
  available (Python 3.12+), from ``SPMM_MIN_DIM`` columns; any device.
- ``dgl``: ||z_u||^2 + ||z_v||^2 - 2 u.v with DGL's ``u_dot_v`` (gsddmm; its backward is a
  gspmm), never forming the E x d matrix of differences; CPU, where DGL imports.
- ``triton``: one fused Triton kernel each way (:mod:`.triton_edge`; backward by atomic adds),
  never forming the E x d matrix either; CUDA, where Triton imports (the ``gpu`` extra), or CPU
  tensors under ``TRITON_INTERPRET=1`` (Triton's interpreter: tests only).

``auto`` takes ``triton`` on CUDA when Triton imports; on CPU, ``dgl`` when DGL imports (else
``spmm`` from ``SPMM_MIN_DIM`` columns), the
pass has at least ``DGL_MIN_EDGES`` pairs (below that, building DGL's graph costs more than it
saves) and rows have at least ``DGL_MIN_DIM`` columns (at d=2 the gather is cheaper: see
benchmarks/kernels.py); else ``torch``. :func:`block_sqdist` gives all pairs between two row sets by
one matrix product
(the engine's shared negatives).
"""

from __future__ import annotations


import torch

from .._deps import dgl_available, env_flag, require_dgl


def sqdist_torch(z: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    return (z[src] - z[dst]).pow(2).sum(1)


def sqdist_dgl(z: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    dgl = require_dgl()
    g = dgl.graph((src, dst), num_nodes=z.shape[0])
    sq = z.pow(2).sum(1)
    dot = dgl.ops.u_dot_v(g, z, z).squeeze(1)
    return (sq[src] + sq[dst] - 2 * dot).clamp_min(0)


class _SpmmSqdist(torch.autograd.Function):
    """||z_u - z_v||^2 forward without the whole E x d difference: on few rows (n^2 at most
    ``SPMM_GRAM_RATIO`` E) from the Gram matrix z z^T (one GEMM), else by cache-sized blocks of
    edges; backward as one sparse product: dL/dz = 2 (deg_g * z - (A_g + A_g^T) z), A_g the
    (n, n) matrix with g_e at (src_e, dst_e) and deg_g its row plus column sums."""

    @staticmethod
    def forward(ctx, z, src, dst):
        n = z.shape[0]
        ctx.save_for_backward(z, src, dst)
        if n * n <= min(SPMM_GRAM_RATIO * len(src), 2**26):
            gram = z @ z.T
            sq = gram.diagonal()
            return (sq[src] + sq[dst] - 2 * gram[src, dst]).clamp_min_(0)
        out = torch.empty(len(src), dtype=z.dtype, device=z.device)
        block = max(256, SPMM_BLOCK_FLOATS // max(z.shape[1], 1))
        for lo in range(0, len(src), block):
            out[lo : lo + block] = (
                (z[src[lo : lo + block]] - z[dst[lo : lo + block]]).pow_(2).sum(1)
            )
        return out

    @staticmethod
    def backward(ctx, g):
        z, src, dst = ctx.saved_tensors
        n, g2 = z.shape[0], 2 * g
        deg = torch.bincount(src, g2, minlength=n) + torch.bincount(dst, g2, minlength=n)
        adj = torch.sparse_coo_tensor(
            torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]),
            torch.cat([g2, g2]),
            (n, n),
            check_invariants=False,
        )
        return deg[:, None].to(z.dtype) * z - torch.sparse.mm(adj, z), None, None


def sqdist_spmm(z: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    return _SpmmSqdist.apply(z, src, dst)


def require_triton():
    """Import Triton (optional: ``pip install genurl-graph[gpu]``), or say what to install."""
    try:
        import triton  # noqa: F401
        import triton.language  # noqa: F401
    except Exception as exc:
        raise ImportError(
            "the triton backend needs Triton: `pip install triton` (the gpu extra; PyTorch's "
            f"CUDA wheels ship it) (import failed: {exc.__class__.__name__}: {exc})"
        ) from exc
    return triton


def triton_available() -> bool:
    try:
        require_triton()
    except ImportError:
        return False
    return True


def triton_interpreted() -> bool:
    """Whether Triton kernels run in its CPU interpreter (TRITON_INTERPRET=1)."""
    return env_flag("TRITON_INTERPRET")


def sqdist_triton(z: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    require_triton()
    from .triton_edge import sqdist_triton as kernel

    return kernel(z, src, dst)


BACKENDS = {"torch": sqdist_torch, "spmm": sqdist_spmm, "dgl": sqdist_dgl, "triton": sqdist_triton}
DGL_MIN_EDGES = 20_000
DGL_MIN_DIM = 8
SPMM_MIN_DIM = 64  # below, the naive pass was as fast on 2 cores (benchmarks/kernels.py)
SPMM_BLOCK_FLOATS = 2**19  # a block of gathered rows: 2 MB of float32 (cache-sized)
# the Gram forward while n^2 <= 64 E (measured: 5x the blocks at n=2708, d=512)
SPMM_GRAM_RATIO = 64


def resolve_backend(name: str, device: torch.device | str = "cpu") -> str:
    """The backend that ``name`` means on ``device`` (``auto`` picks the fastest that runs)."""
    device = torch.device(device)
    if name == "auto":
        if device.type == "cuda":
            return "triton" if triton_available() else "torch"
        return ("dgl" if dgl_available() else "spmm") if device.type == "cpu" else "torch"
    if name not in BACKENDS:
        raise ValueError(
            f"unknown kernel backend {name!r}: choose from auto, {', '.join(BACKENDS)}"
        )
    if name == "dgl":
        require_dgl()
        if device.type != "cpu":
            raise ValueError(
                "the dgl backend runs on CPU only (no DGL build matches this torch's CUDA)"
            )
    if name == "triton":
        require_triton()
        if device.type != "cuda" and not (device.type == "cpu" and triton_interpreted()):
            raise ValueError(
                "the triton backend runs on CUDA (or on CPU under TRITON_INTERPRET=1, for tests)"
            )
    return name


def edge_sqdist(
    z: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, backend: str = "auto"
) -> torch.Tensor:
    """||z[src] - z[dst]||^2 for every pair, differentiable in ``z``."""
    name = resolve_backend(backend, z.device)
    if (
        backend == "auto"
        and name == "dgl"
        and (len(src) < DGL_MIN_EDGES or z.shape[1] < DGL_MIN_DIM)
    ):
        name = "torch"
    if (
        backend == "auto"
        and name == "spmm"
        and (len(src) < DGL_MIN_EDGES or z.shape[1] < SPMM_MIN_DIM)
    ):
        name = "torch"
    return BACKENDS[name](z, src, dst)


def block_sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """All pairwise ||a_i - b_j||^2, (len(a), len(b)), by one GEMM; differentiable in both."""
    return (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2 * a @ b.T).clamp_min(0)
