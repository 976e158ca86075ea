"""Class labels of nodes or rows, single- or multi-label."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .ids import canonical_ints, index_ids, normalise_ids
from .text import HEADER_WORDS, data_lines, existing_file, header_like, show


@dataclass
class Labels:
    """Class labels of some rows: ``rows`` into the embedding, ``y`` (n,) or multi-hot (n, c)."""

    rows: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    multilabel: bool


def read_labels(path, ids: np.ndarray | None, num_rows: int) -> Labels:
    """Labels as ``node label`` lines (a node on several lines with different labels is
    multi-label; the same line twice is an error), or one label per line in row order
    (a negative integer = unlabelled)."""
    path = existing_file(path)
    lines = list(data_lines(path))
    if not lines:
        raise InputError("no labels (only comments or blank lines)", path)
    if all(len(f) == 1 for _, f in lines):
        if len(lines) != num_rows:
            raise InputError(
                f"{len(lines)} labels for {num_rows} embedding rows (one label per row, or "
                "'node label' lines)",
                path,
            )
        raw = np.array([f[0] for _, f in lines], dtype=object)
        as_int = canonical_ints(raw)
        keep = np.arange(num_rows) if as_int is None else np.flatnonzero(as_int >= 0)
        classes, y = np.unique(
            (raw if as_int is None else as_int)[keep].astype(str), return_inverse=True
        )
        return Labels(keep, y, classes, False)
    if (
        len(lines) > 1
        and len(lines[0][1]) == 2
        and header_like(lines[0][1])
        and {f.lower() for f in lines[0][1]}
        <= HEADER_WORDS | {"label", "class", "labels", "id", "category"}
    ):
        lines = lines[1:]  # a header such as 'node label'
    seen = {}
    for number, fields in lines:
        if len(fields) != 2:
            raise InputError(f"expected 'node label', found {len(fields)} columns", path, number)
        key = (fields[0], fields[1])
        if key in seen:
            raise InputError(
                f"node {show(fields[0])} has label {show(fields[1])} twice (first on line "
                f"{seen[key]})",
                path,
                number,
            )
        seen[key] = number
    nodes = normalise_ids(np.array([f[0] for _, f in lines], dtype=object))
    labs = np.array([f[1] for _, f in lines], dtype=str)
    if ids is None:
        ids = np.arange(num_rows)
    rows = index_ids(ids, nodes, path, "the embeddings' nodes")
    classes, lab_idx = np.unique(labs, return_inverse=True)
    uniq_rows, inverse = np.unique(rows, return_inverse=True)
    counts = np.bincount(inverse)
    if counts.max() == 1:
        return Labels(rows, lab_idx, classes, False)
    y = np.zeros((len(uniq_rows), len(classes)), dtype=np.int8)
    y[inverse, lab_idx] = 1
    return Labels(uniq_rows, y, classes, True)
