"""A PNG scatter of a 2-D embedding coloured by label (matplotlib, drawn off-screen)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def scatter(Z: np.ndarray, path, labels=None, title: str | None = None, size: float | None = None) -> Path:
    """Draw the first two columns of ``Z``, one colour per label, and write a PNG to ``path``
    (atomically); returns the path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("plotting needs matplotlib: pip install matplotlib") from exc
    from ..io import atomic_write

    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise InputError(f"a scatter needs at least 2 columns, got shape {Z.shape}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"the plot is written as PNG: name it .png, got {path.name!r}", path)
    n = len(Z)
    fig, ax = plt.subplots(figsize=(7, 7), dpi=120)
    s = size or float(np.clip(20000 / n, 0.5, 20))
    if labels is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=s, linewidths=0, c="tab:blue")
    else:
        labels = np.asarray(labels)
        classes, codes = np.unique(labels, return_inverse=True)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        ax.scatter(Z[:, 0], Z[:, 1], s=s, linewidths=0, c=codes, cmap=cmap,
                            vmin=-0.5, vmax=max(len(classes), 10 if len(classes) <= 10 else 20) - 0.5)
        if len(classes) <= 20:
            handles = [plt.Line2D([], [], marker="o", ls="", color=cmap(i), label=str(c))
                       for i, c in enumerate(classes)]
            ax.legend(handles=handles, loc="best", fontsize=7, markerscale=1, frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)
    return path
