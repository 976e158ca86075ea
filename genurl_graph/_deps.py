"""Optional heavy dependencies, imported where used, with one clear error when missing.

DGL (1.1.3, the last Linux DGL that imports beside current torch) has wheels for Python <= 3.11
and CPU only. Where it cannot install or import (Python 3.12+, a CUDA torch), every command and
API still works: the edge pass, the GCN, the SSL view graph and the kNN graph have torch
implementations (:func:`backends` says which one runs and why).

Importing this module (genurl_graph does, first) sets ``DGLBACKEND=pytorch`` unless the user
set it: DGL then neither prints "DGL backend not selected or invalid" nor writes
``~/.dgl/config.json`` into the user's home on its first import; and ``GOMP_SPINCOUNT=10000``
(below) unless the user set it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
import threading

os.environ.setdefault("DGLBACKEND", "pytorch")
# torch's OpenMP (libgomp) lets a waiting thread spin 300,000 turns (milliseconds) before it
# sleeps. Where another process shares the cores, the spinning thread holds the core its partner
# needs to finish: beside one single-threaded job of equal priority on 2 cores, Cora's embedding
# took 21.4 s instead of 10.6 s and a parametric DR of digits 71.6 s instead of 13.0 s; idle,
# 10,000 turns cost nothing measurable (benchmarks/busy.py, docs/backends.md). libgomp reads it
# when torch loads it: it must be set before torch is imported.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

# Python versions DGL 1.1.3 publishes wheels for (pyproject's `dgl` extra and the Makefile)
DGL_PYTHONS = ((3, 8), (3, 9), (3, 10), (3, 11))
DGL_INSTALL = "`pip install dgl==1.1.3 packaging` (Python 3.8-3.11, CPU torch >= 2.0)"


def env_flag(name: str) -> bool:
    """Whether the environment variable ``name`` is set to 1, true, yes or on (any case)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=None)
def _dgl_not_installed() -> bool:
    return importlib.util.find_spec("dgl") is None  # once: it searches the whole sys.path


def _dgl_import_error() -> str | None:
    """None when DGL imports, else why not, in words."""
    if env_flag("GENURL_NO_DGL"):
        return "disabled by GENURL_NO_DGL"
    if "dgl" not in sys.modules and _dgl_not_installed():
        why = "not installed"
        if sys.version_info[:2] not in DGL_PYTHONS:
            why += (
                f" (DGL 1.1.3 has no wheel for Python {sys.version_info[0]}.{sys.version_info[1]})"
            )
        return why
    try:
        import dgl  # noqa: F401
        import dgl.ops  # noqa: F401
    except Exception as exc:  # DGL raises various errors when its binary does not match torch
        first = str(exc).splitlines()[0] if str(exc) else ""
        return f"import failed: {exc.__class__.__name__}: {first}"
    return None


def require_dgl(feature: str = "this feature"):
    """Import DGL, or say what to install: the engine itself runs without it (DESIGN.md)."""
    why = _dgl_import_error()
    if why is not None:
        raise ImportError(f"{feature} needs DGL: {DGL_INSTALL}; DGL is {why}")
    import dgl

    return dgl


def dgl_available() -> bool:
    return _dgl_import_error() is None


@functools.lru_cache(maxsize=None)
def numba_available() -> bool:
    """Whether numba imports: it compiles the layout's ``sne`` loss on CPU
    (genurl_graph.kernels.layout_numba); without it the same loss runs as torch tensor passes.
    ``GENURL_NO_NUMBA=1`` turns it off (tests of the torch path)."""
    if env_flag("GENURL_NO_NUMBA"):
        return False
    try:
        import numba  # noqa: F401
    except Exception:
        return False
    return True


_BLAS_LOCK = threading.Lock()
_BLAS_HELD: list = [0, None]  # blocks inside one_blas_thread now, and the limit that they share


@contextlib.contextmanager
def one_blas_thread(when: bool = True):
    """numpy's and scipy's BLAS on one thread inside the block (when ``when``; else as set).

    For small products only: after each call, OpenBLAS's idle threads spin for up to 2^28
    cycles (about 0.1 s) before they sleep, holding the core that the next stage's threads need.
    A free layout of digits right after its kNN graph and spectral start took 0.35 s instead of
    0.27 s (its second layout thread kept waiting for a core), with the same bits either way
    (docs/dr.md, eighth session). The limit is process-wide: blocks open at once in several
    threads share it, and the last to leave restores the user's setting. Without threadpoolctl
    (scikit-learn brings it) the block runs as set."""
    if not when:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a scikit-learn dependency
        yield
        return
    with _BLAS_LOCK:
        if _BLAS_HELD[0] == 0:
            _BLAS_HELD[1] = threadpool_limits(1, user_api="blas")
        _BLAS_HELD[0] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_HELD[0] -= 1
            if _BLAS_HELD[0] == 0:
                _BLAS_HELD[1].restore_original_limits()
                _BLAS_HELD[1] = None
