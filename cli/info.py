"""``genurl info``: the version, and which backend runs each part on this installation, and why."""

from __future__ import annotations

from .common import app, out


@app.command()
def info():
    """Print the version and which backends are in use (DGL, Triton, CUDA) and why."""
    from genurl_graph import __version__
    from genurl_graph.backends import backends

    out.print(f"genurl-graph {__version__}", highlight=False)
    rows = backends()
    width = max(map(len, rows))
    for key, value in rows.items():
        out.print(f"  {key:<{width}}  {value}", highlight=False, soft_wrap=True)
