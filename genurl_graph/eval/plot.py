"""Pictures of embeddings: any embedding laid out in 2-D by the project's own DR and drawn as a PNG
scatter coloured by label (matplotlib, off-screen).

:func:`plot` is what ``genurl plot`` and the demo call: an embedding of more than two columns is
first reduced by ``GenURL(task="dr", dim=2)``; class labels get one colour each (a legend up to
:data:`MAX_LEGEND` classes), numeric labels a colour bar. :func:`scatter` draws a 2-D array as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

MAX_LEGEND = 20  # classes named in a legend; above, colours only


@dataclass
class PlotResult:
    """What :func:`plot` drew: the PNG's ``path``, the 2-D ``layout`` (one row per embedding row)
    and ``points``: the coordinates read back from the drawn artists, in row order."""

    path: Path
    layout: np.ndarray
    points: np.ndarray
    kind: str  # "classes", "numbers" or "none"


def _matplotlib():
    """matplotlib's figure, colour maps and line classes, without pyplot: drawing on an Agg
    canvas of our own leaves the user's pyplot backend and open figures as they are."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ImportError as exc:
        raise InputError("plotting needs matplotlib: pip install matplotlib") from exc
    return matplotlib, Figure, FigureCanvasAgg, Line2D


def _labelled(labels, n: int):
    """(mask of labelled rows, their values as an object array); None/NaN/'' mean no label."""
    labels = np.asarray(labels, dtype=object).ravel()
    if len(labels) != n:
        raise InputError(f"{len(labels)} labels for {n} points: give one label per row")
    mask = np.array(
        [not (v is None or v == "" or (isinstance(v, float) and np.isnan(v))) for v in labels]
    )
    return mask, labels[mask]


def _as_numbers(values: np.ndarray):
    try:
        return np.array([float(v) for v in values])
    except (TypeError, ValueError):
        return None


def _label_kind(values: np.ndarray, kind: str) -> str:
    """``classes`` or ``numbers``: auto picks numbers for numeric labels that are not whole or
    take more than :data:`MAX_LEGEND` distinct values."""
    if kind not in ("auto", "classes", "numbers"):
        raise InputError(f"label kind must be auto, classes or numbers, got {kind!r}")
    nums = _as_numbers(values)
    if kind == "numbers" and nums is None:
        raise InputError("the labels are not all numbers, so they cannot be drawn on a colour bar")
    if kind != "auto":
        return kind
    if nums is None or not len(nums):
        return "classes"
    whole = np.all(np.isfinite(nums)) and np.all(nums == np.round(nums))
    return "numbers" if not whole or len(np.unique(nums)) > MAX_LEGEND else "classes"


def _draw(Y: np.ndarray, labels, title: str | None, pixels, kind: str, seed: int):
    """Draw the 2-D ``Y``; returns (figure, points read back from the artists in row order,
    kind)."""
    mpl, Figure, FigureCanvasAgg, Line2D = _matplotlib()
    n = len(Y)
    width, height = pixels
    if width < 100 or height < 100:
        raise InputError(f"the picture must be at least 100x100 pixels, got {width}x{height}")
    dpi = 100
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    s = float(np.clip(20_000 * (width * height) / 840**2 / max(n, 1), 0.3, 24))  # marker area, pt^2
    # a seeded random drawing order, so no class is drawn systematically on top of the others
    order = np.random.default_rng(seed).permutation(n)
    drawn = []  # (row indices, collection)
    if labels is None:
        kind = "none"
        drawn.append((order, ax.scatter(Y[order, 0], Y[order, 1], s=s, linewidths=0, c="tab:blue")))
    else:
        mask, values = _labelled(labels, n)
        kind = _label_kind(values, kind)
        rest = order[~mask[order]]
        if len(rest):
            drawn.append(
                (
                    rest,
                    ax.scatter(
                        Y[rest, 0],
                        Y[rest, 1],
                        s=s * 0.6,
                        linewidths=0,
                        c="0.8",
                        label=f"no label ({len(rest)})",
                    ),
                )
            )
        rows = order[mask[order]]
        value_of = np.empty(n, dtype=object)
        value_of[mask] = values
        if kind == "numbers":
            nums = _as_numbers(value_of[rows])
            sc = ax.scatter(Y[rows, 0], Y[rows, 1], s=s, linewidths=0, c=nums, cmap="viridis")
            drawn.append((rows, sc))
            fig.colorbar(sc, ax=ax, shrink=0.8, label="label")
        else:
            classes = np.unique(values.astype(str))
            nums = _as_numbers(classes)
            if nums is not None:  # 2 before 10
                classes = classes[np.argsort(nums, kind="stable")]
            codes = {c: i for i, c in enumerate(classes)}
            k = len(classes)
            cmap = mpl.colormaps["tab10" if k <= 10 else "tab20" if k <= 20 else "turbo"]
            colours = [cmap(i) if k <= 20 else cmap(i / max(k - 1, 1)) for i in range(k)]
            code = np.array([codes[str(v)] for v in value_of[rows]], dtype=np.int64)
            drawn.append(
                (
                    rows,
                    ax.scatter(
                        Y[rows, 0], Y[rows, 1], s=s, linewidths=0, c=[colours[i] for i in code]
                    ),
                )
            )
            if k <= MAX_LEGEND:
                counts = np.bincount(code, minlength=k)
                handles = [
                    Line2D([], [], marker="o", ls="", color=colours[i], label=f"{c} ({counts[i]})")
                    for i, c in enumerate(classes)
                ]
                if len(rest):
                    handles.append(
                        Line2D(
                            [], [], marker="o", ls="", color="0.8", label=f"no label ({len(rest)})"
                        )
                    )
                fig.legend(
                    handles=handles,
                    loc="outside right center",
                    fontsize=8,
                    frameon=False,
                    title="label",
                    markerscale=1.2,
                )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title, fontsize=10, wrap=True)
    points = np.empty((n, 2))
    for rows, coll in drawn:
        points[rows] = np.asarray(coll.get_offsets(), dtype=np.float64)
    return fig, points, kind


def _save(fig, path: Path) -> Path:
    from ..io import atomic_write

    with atomic_write(path) as fh:
        fig.savefig(fh, format="png")
    return path


def _check_png(path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"the plot is written as PNG: name it .png, got {path.name!r}", path)
    if not path.parent.exists():
        raise InputError("the output's folder does not exist", path)
    return path


def scatter(
    Z: np.ndarray,
    path,
    labels=None,
    title: str | None = None,
    pixels=(840, 840),
    kind: str = "auto",
    seed: int = 0,
) -> Path:
    """Draw the first two columns of ``Z``, coloured by ``labels`` (one per row; None/NaN: no
    label), and write a PNG of ``pixels`` (width, height) to ``path`` (atomically); returns the
    path."""
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise InputError(f"a scatter needs at least 2 columns, got shape {Z.shape}")
    path = _check_png(path)
    fig, _, _ = _draw(np.asarray(Z[:, :2], dtype=np.float64), labels, title, pixels, kind, seed)
    return _save(fig, path)


def plot(
    Z: np.ndarray,
    path,
    labels=None,
    title: str | None = None,
    pixels=(840, 840),
    kind: str = "auto",
    seed: int = 0,
    name: str = "embedding",
    epochs: int | None = None,
    progress=None,
) -> PlotResult:
    """Lay the embedding ``Z`` (n, d) out in 2-D and write a PNG scatter to ``path``.

    d > 2: ``GenURL(task="dr", dim=2, random_state=seed)`` (the project's DR); d = 2: the columns
    as they are. ``labels`` (one per row; None/NaN: no label) colour the points: class labels one
    colour each with a legend up to 20 classes, numbers a colour bar (``kind`` = ``auto``,
    ``classes`` or ``numbers``). The default title says what is shown (``name``, n, d, the labels).
    ``epochs``: the DR's (default: its own).
    """
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise InputError(f"an embedding to plot needs at least 2 columns, got shape {Z.shape}")
    if not np.all(np.isfinite(Z)):
        raise InputError(
            f"the embedding has NaN or infinite values (first in row "
            f"{np.argwhere(~np.isfinite(Z))[0, 0]})"
        )
    path = _check_png(path)
    if labels is not None:
        _labelled(labels, len(Z))  # refuse a wrong length before the layout is computed
    n, d = Z.shape
    if d > 2:
        from ..model import GenURL
        from ..tasks.dr import FREE

        if n < 2:
            raise InputError(f"a layout needs at least 2 points, got {n}")
        Y = GenURL(
            task="dr",
            dim=2,
            k=min(FREE.k, n - 1),  # a few points: every other one is a neighbour (no --k here)
            epochs=epochs,
            random_state=seed,
            progress=progress,
        ).fit_transform(Z)
        how = f"{d}-d laid out in 2-D by GenURL DR"
    else:
        Y = Z.astype(np.float64)
        how = "its 2 columns"
    Y = np.asarray(Y, dtype=np.float64)
    fig, points, kind = _draw(Y, labels, None, pixels, kind, seed)
    if title is None:
        coloured = {"none": "no labels", "numbers": "coloured by label value"}.get(kind)
        if coloured is None:
            k = len(np.unique(_labelled(labels, n)[1].astype(str)))
            coloured = f"coloured by class ({k} classes" + (
                ")" if k <= MAX_LEGEND else ", no legend above 20)"
            )
        title = f"{name}: {n:,} points, {how}, {coloured}"
    fig.axes[0].set_title(title, fontsize=10, wrap=True)
    return PlotResult(_save(fig, path), Y, points, kind)
