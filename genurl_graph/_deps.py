"""Optional heavy dependencies, imported where used, with one clear error when missing."""
from __future__ import annotations


def require_dgl():
    """Import DGL, or say what to install: the engine itself runs without it (DESIGN.md)."""
    try:
        import dgl  # noqa: F401
        import dgl.ops  # noqa: F401
    except Exception as exc:  # DGL raises various errors when its binary does not match torch
        raise ImportError(
            "this feature needs DGL: `pip install dgl==1.1.3 packaging` with torch>=2.0 on CPU "
            f"(import failed: {exc.__class__.__name__}: {exc})") from exc
    return dgl


def dgl_available() -> bool:
    try:
        require_dgl()
    except ImportError:
        return False
    return True
