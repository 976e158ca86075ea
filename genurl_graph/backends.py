"""What runs where on this installation, and why (``genurl info``)."""

from __future__ import annotations

import os
import sys

import torch

from ._deps import _dgl_import_error, numba_available
from .kernels import resolve_backend, triton_available


def backends() -> dict:
    """What runs where on this installation, and why: ``genurl info`` prints it."""
    dgl_why = _dgl_import_error()
    has_dgl = dgl_why is None
    cuda = torch.cuda.is_available()
    dgl_version = None
    if has_dgl:
        import dgl

        dgl_version = dgl.__version__
    layout_threads = ""
    if numba_available():
        from .kernels.layout_numba import max_threads

        layout_threads = f", up to {max_threads()} (layout kernel)"
    triton_version = None
    if triton_available():
        import triton

        triton_version = triton.__version__
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cpu threads": f"{torch.get_num_threads()} (torch){layout_threads}; OpenMP spin "
        f"{os.environ.get('GOMP_SPINCOUNT', 'libgomp default')} turns (docs/backends.md)",
        "cuda": torch.cuda.get_device_name()
        if cuda
        else f"not available (torch CUDA build: {torch.version.cuda})",
        "dgl": dgl_version or dgl_why,
        "triton": triton_version or "not installed (only needed on CUDA: the gpu extra)",
        "edge pass, cpu": resolve_backend("auto", "cpu")
        + (
            " (DGL's u_dot_v from 20,000 edges and 8 dims; torch below)"
            if has_dgl
            else " (torch: Gram-matrix or blocked forward, sparse-matmul backward, from 20,000 "
            "edges and 64 dims; "
            "the plain torch pass below; DGL is not available)"
        ),
        "edge pass, cuda": (resolve_backend("auto", "cuda") if cuda else "no CUDA device")
        + (
            ""
            if not cuda
            else (" (fused Triton kernel)" if triton_version else " (Triton not installed)")
        ),
        "layout loss (dr), cpu": "numba: the sne form compiled, one pass over the pairs"
        if numba_available()
        else "torch tensor passes (numba is not installed)",
        "gcn encoder": "torch sparse matmul (the same on every backend)",
        "knn above 20,000 points": (
            "DGL nn-descent (approximate)"
            if has_dgl
            else "exact, blocked torch matmul (DGL's nn-descent is not available)"
        ),
        "ssl view graph": "DGLGraph" if has_dgl else "(src, dst, p) tensors (DGL is not available)",
    }
