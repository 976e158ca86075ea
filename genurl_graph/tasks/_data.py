"""Input checks shared by the tasks that take a data matrix (DR, KD) or node features (GE)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InputError

BLOCK = 1 << 16  # rows checked at a time


def check_finite(X, what: str) -> None:
    """An InputError naming the first row of ``X`` (array or sparse) that holds NaN or inf."""
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        data_ok = np.isfinite(X.data)
        if not data_ok.all():
            row = int(np.searchsorted(X.indptr, np.argmin(data_ok), "right") - 1)
            raise InputError(f"{what} contains NaN or inf (first in row {row})")
        return
    count, first = 0, None
    for lo in range(0, X.shape[0], BLOCK):  # by blocks: no (n, f) temporary on large inputs
        bad = ~np.isfinite(X[lo : lo + BLOCK]).all(1)
        if bad.any():
            count += int(bad.sum())
            first = lo + int(np.argmax(bad)) if first is None else first
    if count:
        raise InputError(
            f"{what} contains NaN or inf in {count} row{'' if count == 1 else 's'} (first: row "
            f"{first})"
        )


def as_matrix(X, what: str):
    """A 2-D float32 matrix (CSR stays CSR); NaN/inf rows are named."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float32)
        check_finite(X, what)
        return X
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a numeric matrix") from None
    if X.ndim != 2:
        raise InputError(
            f"{what} must be 2-D (rows x columns), got shape {X.shape}"
            + ("; reshape a single feature with X.reshape(-1, 1)" if X.ndim == 1 else "")
        )
    check_finite(X, what)
    return X
