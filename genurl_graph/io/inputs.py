"""A model's inputs with their row ids: the rows a student, a parametric DR model or an
inductive GE encoder embeds, and what ``genurl apply`` reads for each task."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .arrays import check_finite_matrix, read_feature_table, read_features, read_images, read_matrix
from .edges import read_nodes
from .output import nodes_path_for
from .text import existing_file


def read_rows(path, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Input rows X and the id of each row: a ``.csv`` names its rows in its first column
    (reordered to ``ids`` when given); a ``.npy``/``.npz`` follows ``ids`` (or the ``.nodes.txt``
    beside it, or ``0..n-1``)."""
    path = Path(path)
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        if ids is not None:
            return read_features(path, ids), ids
        X, row_ids, lines = read_feature_table(existing_file(path))
        check_finite_matrix(X, path, "the inputs", lines)
        return X.astype(np.float32), row_ids
    X = read_features(path)
    own = nodes_path_for(path)
    own_ids = read_nodes(own) if own.exists() else None
    if own_ids is not None and len(own_ids) != X.shape[0]:
        raise InputError(f"{len(own_ids)} node ids for {X.shape[0]} input rows", own)
    if (
        ids is not None
        and own_ids is not None
        and (len(ids) != len(own_ids) or (ids.astype(str) != own_ids.astype(str)).any())
    ):
        raise InputError(
            "the inputs' row ids (from their .nodes.txt) differ from the teacher's: the rows "
            "must name the same nodes in the same order",
            own,
        )
    if ids is None:
        ids = own_ids if own_ids is not None else np.arange(X.shape[0])
    return X, ids


def read_inputs(path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """A fitted model's new inputs and their row ids, by the task's ``inputs_kind``: ``images``
    (an (n, H, W) or (n, C, H, W) array), ``matrix`` (numbers only when text, as ``genurl
    reduce`` reads them) or ``rows`` (:func:`read_rows`)."""
    if kind == "images":
        images = read_images(path)
        if images.ndim not in (3, 4):
            raise InputError(
                f"a model of images takes an (n, H, W) or (n, C, H, W) array, got shape "
                f"{images.shape}: save flattened rows reshaped (numpy: X.reshape(n, H, W))",
                path,
            )
        return images, np.arange(len(images))
    if kind == "matrix" and Path(path).suffix.lower() in (".csv", ".tsv", ".txt"):
        X = read_matrix(path)
        return X, np.arange(len(X))
    return read_rows(path)
