"""Node ids: text unless every id is a canonical integer; finding rows of ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .text import data_lines, show


_CANONICAL_INT = r"0|-?[1-9][0-9]{0,18}"


def canonical_ints(tokens: np.ndarray):
    """``tokens`` (text) as int64 when every one is a canonical integer, else None."""
    import pandas as pd

    if tokens.dtype.kind == "i":
        return tokens.astype(np.int64, copy=False)
    if len(tokens) == 0:
        return None
    text = pd.Series(tokens, dtype=object).astype(str)
    if not text.str.fullmatch(f"(?:{_CANONICAL_INT})").all():
        return None
    try:
        return (
            np.array([int(t) for t in text], dtype=np.int64)
            if len(text) < 1000
            else text.astype(np.int64).to_numpy()
        )
    except (OverflowError, ValueError):
        return None


def normalise_ids(ids: np.ndarray) -> np.ndarray:
    """Ids as int64 when every one is a canonical integer, else as text."""
    uniques, codes = np.unique(ids.astype(str), return_inverse=True) if len(ids) else (ids, None)
    as_int = canonical_ints(uniques)
    if as_int is None:
        return ids.astype(str)
    return as_int[codes]


def line_of(path: Path, token: str, column: int | None = None) -> int | None:
    """The first line whose id column(s) hold exactly ``token``."""
    for number, fields in data_lines(path):
        cols = fields[:2] if column is None else fields[column : column + 1]
        if token in cols:
            return number
    return None


def index_ids(
    ids: np.ndarray, wanted: np.ndarray, path: Path, where: str, column: int | None = 0
) -> np.ndarray:
    """Row of each wanted id in ``ids`` (compared as text unless both are integers); an unknown
    id is an InputError naming its line in ``path`` (looked for in ``column``, or in the first
    two when None)."""
    both_int = ids.dtype.kind == "i" and wanted.dtype.kind == "i"
    keys = ids if both_int else ids.astype(str)
    wanted = wanted if both_int else wanted.astype(str)
    if len(keys) == 0:
        raise InputError(f"no nodes in {where}", path)
    order = np.argsort(keys, kind="stable")
    pos = np.searchsorted(keys[order], wanted).clip(0, len(keys) - 1)
    bad = keys[order][pos] != wanted
    if bad.any():
        token = str(wanted[np.argmax(bad)])
        raise InputError(
            f"node {show(token)} is not in {where}", path, line_of(path, token, column)
        )
    return order[pos]
