"""Numeric arrays: node features, data matrices and images (.npy, .npz, delimited text)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .ids import index_ids, normalise_ids
from .text import data_lines, existing_file, is_number, show


def load_array(path: Path, what: str):
    """The one array in a ``.npy`` or ``.npz`` (never unpickling); a scipy sparse ``.npz`` as
    CSR."""
    import scipy.sparse as sp

    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            try:
                return sp.load_npz(path).tocsr()
            except (ValueError, KeyError, OSError, EOFError, TypeError):
                pass
            with np.load(path, allow_pickle=False) as archive:
                if len(archive.files) != 1:
                    raise InputError(
                        f"a .npz of {what} must hold one array or one scipy sparse matrix, "
                        f"found {len(archive.files)}: {', '.join(map(show, archive.files[:5]))}",
                        path,
                    )
                return archive[archive.files[0]]
        return np.load(path, allow_pickle=False)
    except InputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(
                f"{what} must be numbers: the array holds Python objects (not read)", path
            ) from None
        raise InputError(f"not a numeric {suffix} array ({exc})", path) from None
    except (OSError, EOFError, KeyError) as exc:
        raise InputError(f"cannot read the {suffix} array ({exc})", path) from None


def check_finite_matrix(feats, path: Path, what: str, row_lines=None):
    """A 2-D numeric matrix with at least one row and one column and no NaN/inf."""
    import scipy.sparse as sp

    if feats.ndim != 2:
        raise InputError(
            f"{what} must be a 2-D matrix (rows x columns), got shape {feats.shape}", path
        )
    if feats.shape[0] == 0 or feats.shape[1] == 0:
        raise InputError(
            f"{what} must have at least one row and one column, got shape {feats.shape}", path
        )
    data = feats.data if sp.issparse(feats) else feats
    if data.dtype.kind not in "biuf":
        raise InputError(f"{what} must be numeric, got dtype {data.dtype}", path)
    finite = np.isfinite(data)
    if not finite.all():
        first = int(np.argmin(finite.ravel()))
        if sp.issparse(feats):
            row = int(np.searchsorted(feats.indptr, first, "right") - 1)
        else:
            row = first // feats.shape[1]
        if row_lines is not None:
            raise InputError(f"{what} contain NaN or inf", path, int(row_lines[row]))
        raise InputError(
            f"{what} contain NaN or inf (first in row {row + 1} of {feats.shape[0]}, "
            "counting from 1)",
            path,
        )


def read_features(path, ids: np.ndarray | None = None) -> np.ndarray:
    """Node features as a float32 matrix whose rows follow ``ids``.

    ``.npy`` / ``.npz`` rows are already in node order (that of ``--nodes``, or integer ids
    ``0..rows-1``); a ``.csv`` has the node id in its first column and may list rows in any order
    (a first line that is not numbers is a header).
    A ``.npz`` written by ``scipy.sparse.save_npz`` stays sparse (CSR).
    """
    path = existing_file(path)
    suffix = path.suffix.lower()
    row_lines = None
    if suffix in (".npy", ".npz"):
        feats = load_array(path, "features")
    elif suffix in (".csv", ".tsv", ".txt", ".gz"):
        feats, row_ids, row_lines = read_feature_table(path)
        if ids is not None:
            rows = index_ids(ids, row_ids, path, "the graph")
            if len(row_ids) != len(ids):
                missing = np.setdiff1d(ids.astype(str), row_ids.astype(str))
                raise InputError(
                    f"{len(missing)} graph nodes have no feature row (first: {show(missing[0])})",
                    path,
                )
            out = np.empty_like(feats)
            out[rows] = feats
            lines = np.empty_like(row_lines)
            lines[rows] = row_lines
            feats, row_lines = out, lines
    else:
        raise InputError(f"unknown features format {suffix!r}: use .npy, .npz or .csv", path)
    check_finite_matrix(feats, path, "features", row_lines)
    if ids is not None and suffix in (".npy", ".npz") and feats.shape[0] != len(ids):
        raise InputError(
            f"features have {feats.shape[0]} rows but the graph has {len(ids)} nodes "
            "(rows follow --nodes, or integer ids 0..rows-1)",
            path,
        )
    return feats.astype(np.float32)


def read_matrix(path) -> np.ndarray:
    """A data matrix (points x features) for DR/KD: ``.npy``, ``.npz`` (one array or a scipy
    sparse matrix) or a delimited text file of numbers only (one header line allowed)."""
    path = existing_file(path)
    if path.suffix.lower() in (".npy", ".npz"):
        X = load_array(path, "the data")
        check_finite_matrix(X, path, "the data")
        _check_float32_range(X, path)
        return X.astype(np.float32)
    rows, width, lines = [], None, []
    for number, fields in data_lines(path):
        try:
            vec = [float(v) for v in fields]
        except ValueError:
            if not rows and width is None:  # a header line
                width = -1
                continue
            bad = next(v for v in fields if not is_number(v))
            raise InputError(
                f"value {show(bad)} is not a number (this file holds numbers only, no id column)",
                path,
                number,
            ) from None
        if width in (None, -1):
            width = len(vec)
        if len(vec) != width:
            raise InputError(
                f"expected {width} values (as on the first row), found {len(vec)}", path, number
            )
        rows.append(vec)
        lines.append(number)
    if not rows:
        raise InputError("no data rows", path)
    X = np.asarray(rows, dtype=np.float64)
    check_finite_matrix(X, path, "the data", lines)
    _check_float32_range(X, path)
    return X.astype(np.float32)


def _check_float32_range(X, path: Path) -> None:
    import scipy.sparse as sp

    data = X.data if sp.issparse(X) else X
    top = float(np.abs(data).max()) if data.size else 0.0
    if top > 1e30:
        raise InputError(
            f"values up to {top:.3g} are too large for float32 arithmetic (distances overflow): "
            "rescale the data",
            path,
        )


def read_images(path) -> np.ndarray:
    """An array of images for SSL: ``.npy`` or ``.npz`` (one array), any number of dimensions
    (the task checks the shape: (n, H, W), (n, C, H, W), or flattened rows with a shape)."""
    import scipy.sparse as sp

    path = existing_file(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise InputError(
            f"images must be a .npy or .npz array, not {suffix or 'a file without a suffix'}", path
        )
    images = load_array(path, "images")
    if sp.issparse(images):
        images = images.toarray()
    images = np.asarray(images)
    if images.dtype.kind not in "biuf":
        raise InputError(f"images must be numbers, found dtype {images.dtype}", path)
    if images.size == 0:
        raise InputError(f"no images (shape {images.shape})", path)
    if not np.isfinite(images).all():
        raise InputError("images contain NaN or inf", path)
    return images


def read_feature_table(path: Path):
    """(values, row ids, line of each row) of an id-first table of numbers."""
    rows, values, width, lines, seen = [], [], None, [], {}
    for number, fields in data_lines(path):
        try:
            vec = [float(v) for v in fields[1:]]
        except ValueError:
            if not rows:  # a header line
                continue
            bad = next(v for v in fields[1:] if not is_number(v))
            raise InputError(f"feature value {show(bad)} is not a number", path, number) from None
        if width is None:
            width = len(vec)
        if width == 0:
            raise InputError(
                "expected a node id and at least one feature value, found one column", path, number
            )
        if len(vec) != width:
            raise InputError(
                f"expected an id and {width} feature values (as on line {lines[0]}), found "
                f"{len(fields)} columns",
                path,
                number,
            )
        if fields[0] in seen:
            raise InputError(
                f"node {show(fields[0])} has two feature rows (first on line {seen[fields[0]]})",
                path,
                number,
            )
        seen[fields[0]] = number
        rows.append(fields[0])
        values.append(vec)
        lines.append(number)
    if not rows:
        raise InputError("no feature rows", path)
    return (
        np.asarray(values, dtype=np.float64),
        normalise_ids(np.array(rows, dtype=object)),
        np.asarray(lines),
    )
