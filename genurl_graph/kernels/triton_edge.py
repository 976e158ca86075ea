"""The CUDA edge pass in Triton: d2[e] = ||z[src[e]] - z[dst[e]]||^2, fused, with its backward.

Forward: each program takes ``BLOCK_E`` edges, walks the d columns in ``BLOCK_D`` chunks, loads
both endpoint rows chunk by chunk and keeps only a running sum per edge, so the E x d matrix of
gathered rows is never written. Backward: the same walk computes c = 2 g_e (z_src - z_dst) per
chunk and adds +c into dz[src], -c into dz[dst] with atomic adds. Memory O(n d + E); traffic two
row reads per edge forward, two reads and two atomic row writes backward.

Imported only when the ``triton`` backend is used (Triton is an optional dependency). With
``TRITON_INTERPRET=1`` set before this module is imported, the kernels run in Triton's
interpreter on CPU tensors (slow; what the tests do where there is no GPU).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

MAX_BLOCK_D = 128
BLOCK_ELEMS = 4096  # BLOCK_E * BLOCK_D per program


@triton.jit
def _sqdist_fwd(
    z_ptr, src_ptr, dst_ptr, out_ptr, E, D, stride, BLOCK_E: tl.constexpr, BLOCK_D: tl.constexpr
):
    offs_e = tl.program_id(0) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    s = tl.load(src_ptr + offs_e, mask=mask_e, other=0).to(tl.int64) * stride
    t = tl.load(dst_ptr + offs_e, mask=mask_e, other=0).to(tl.int64) * stride
    acc = tl.zeros((BLOCK_E,), dtype=out_ptr.dtype.element_ty)
    for d0 in range(0, D, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        m = mask_e[:, None] & (offs_d[None, :] < D)
        a = tl.load(z_ptr + s[:, None] + offs_d[None, :], mask=m, other=0.0)
        b = tl.load(z_ptr + t[:, None] + offs_d[None, :], mask=m, other=0.0)
        diff = a - b
        acc += tl.sum(diff * diff, axis=1)
    tl.store(out_ptr + offs_e, acc, mask=mask_e)


@triton.jit
def _sqdist_bwd(
    z_ptr,
    src_ptr,
    dst_ptr,
    g_ptr,
    dz_ptr,
    E,
    D,
    stride,
    dz_stride,
    BLOCK_E: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    offs_e = tl.program_id(0) * BLOCK_E + tl.arange(0, BLOCK_E)
    mask_e = offs_e < E
    si = tl.load(src_ptr + offs_e, mask=mask_e, other=0).to(tl.int64)
    ti = tl.load(dst_ptr + offs_e, mask=mask_e, other=0).to(tl.int64)
    g2 = 2.0 * tl.load(g_ptr + offs_e, mask=mask_e, other=0.0)
    for d0 in range(0, D, BLOCK_D):
        offs_d = d0 + tl.arange(0, BLOCK_D)
        m = mask_e[:, None] & (offs_d[None, :] < D)
        a = tl.load(z_ptr + si[:, None] * stride + offs_d[None, :], mask=m, other=0.0)
        b = tl.load(z_ptr + ti[:, None] * stride + offs_d[None, :], mask=m, other=0.0)
        c = (a - b) * g2[:, None]
        tl.atomic_add(dz_ptr + si[:, None] * dz_stride + offs_d[None, :], c, mask=m, sem="relaxed")
        tl.atomic_add(dz_ptr + ti[:, None] * dz_stride + offs_d[None, :], -c, mask=m, sem="relaxed")


def _blocks(d: int) -> tuple[int, int, int]:
    block_d = min(triton.next_power_of_2(max(d, 1)), MAX_BLOCK_D)
    block_e = min(max(BLOCK_ELEMS // block_d, 16), 1024)
    return block_e, block_d, 4


class EdgeSqDist(torch.autograd.Function):
    """||z[src] - z[dst]||^2 per edge, (E,), differentiable in ``z`` (float32 or float64)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        z = z.contiguous()
        src, dst = src.contiguous(), dst.contiguous()
        E, d = len(src), z.shape[1]
        out = torch.empty(E, dtype=z.dtype, device=z.device)
        if E:
            be, bd, warps = _blocks(d)
            _sqdist_fwd[(triton.cdiv(E, be),)](
                z, src, dst, out, E, d, z.stride(0), BLOCK_E=be, BLOCK_D=bd, num_warps=warps
            )
        ctx.save_for_backward(z, src, dst)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, src, dst = ctx.saved_tensors
        dz = torch.zeros_like(z)
        E, d = len(src), z.shape[1]
        if E and ctx.needs_input_grad[0]:
            be, bd, warps = _blocks(d)
            grad = grad.contiguous().to(z.dtype)
            _sqdist_bwd[(triton.cdiv(E, be),)](
                z,
                src,
                dst,
                grad,
                dz,
                E,
                d,
                z.stride(0),
                dz.stride(0),
                BLOCK_E=be,
                BLOCK_D=bd,
                num_warps=warps,
            )
        return dz, None, None


def sqdist_triton(z: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    if z.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the triton backend takes float32 or float64 rows, got {z.dtype}")
    if z.dim() != 2:
        raise ValueError(f"z must be (n, d), got shape {tuple(z.shape)}")
    return EdgeSqDist.apply(z, src, dst)
