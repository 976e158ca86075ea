"""Reading user files (edge lists, node lists, features, labels) and writing outputs atomically.

Every problem in a file becomes an :class:`InputError` naming the file and, where it has one,
the line. Edge lists are parsed by pandas' C reader (no Python loop per edge); only when that
fast path meets something it cannot read exactly does a line-by-line scan run, which reads the
same rows (and names the bad line).

Node ids are text: two ids that differ as text are different nodes (``007`` and ``7``, ``1.0``
and ``1``). Only when every id of a file is a canonical integer (``-?(0|[1-9][0-9]*)``, within
64 bits) are ids integers, sorted numerically. Files are UTF-8 (a BOM is skipped) and may be
gzip-compressed.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import re
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

COMMENT_CHARS = ("#", "%")
_SPLIT = re.compile(r"[ \t,]+")
_LINES = re.compile(r"\r\n|\r|\n")
_CANONICAL_INT = r"0|-?[1-9][0-9]{0,18}"
# Column names a header line may use; a first line of such words is a header, not an edge.
HEADER_WORDS = {"source", "target", "src", "dst", "from", "to", "node", "node1", "node2", "node_1",
                "node_2", "head", "tail", "id1", "id2", "source_id", "target_id", "weight", "start",
                "end", "sender", "receiver", "from_node", "to_node", "source_node", "target_node"}


def show(value, limit: int = 60) -> str:
    """A value for a message: quoted plain text (no numpy repr), cut to ``limit`` characters."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text)} characters)"
    return repr(text)


@dataclass
class EdgeList:
    """Edges as row indices into ``ids`` (the node id of each row), with a weight per edge."""

    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    ids: np.ndarray

    @property
    def num_nodes(self) -> int:
        return len(self.ids)


def _existing_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", path)
    if path.is_dir():
        raise InputError("is a folder, expected a file", path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path)
    return path


def _raw_bytes(path: Path) -> bytes:
    """The bytes of a text file (gunzipped when it is gzip data), checked to be UTF-8 text
    without NUL bytes; a leading BOM is dropped."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(f"a damaged gzip file ({exc})", path) from None
        if not data:
            raise InputError("the gzip file holds no data", path)
    elif data[:4] in (b"PK\x03\x04",) or data[:3] == b"BZh" or data[:6] == b"\xfd7zXZ\x00":
        raise InputError("a compressed archive (zip, bzip2 or xz): decompress it first, or gzip it", path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError("binary data (a NUL byte), not a text file", path, data.count(b"\n", 0, nul) + 1)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x}): save the file as UTF-8",
                         path, data.count(b"\n", 0, exc.start) + 1) from None
    return data


def _text_lines(path: Path):
    """Yield (line number, line text) of a text file (see :func:`_raw_bytes`)."""
    text = _raw_bytes(path).decode("utf-8")
    for number, line in enumerate(_LINES.split(text), start=1):
        yield number, line


def _data_lines(path: Path):
    """Yield (line number, fields) for each non-blank, non-comment line, splitting on any run
    of commas, tabs and spaces."""
    for number, line in _text_lines(path):
        text = line.strip(" \t")
        if not text or text.startswith(COMMENT_CHARS):
            continue
        fields = [f for f in _SPLIT.split(text) if f]
        if fields:
            yield number, fields


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _header_like(fields) -> bool:
    return all(re.fullmatch(r"[A-Za-z_][\w.\-]*", f) and not _is_number(f) for f in fields)


def _scan_edges(path: Path):
    """Slow, exact reading of an edge list: the text columns (weight column None when no line
    has one) and the line number of each row; raises on a line with a wrong number of columns."""
    us, vs, ws, lines = [], [], [], []
    for number, fields in _data_lines(path):
        if len(fields) < 2:
            raise InputError(f"expected 'source target [weight]', found one column: {show(fields[0])}",
                             path, number)
        if len(fields) > 3:
            raise InputError(f"expected at most 3 columns (source target weight), found {len(fields)}",
                             path, number)
        us.append(fields[0])
        vs.append(fields[1])
        ws.append(fields[2] if len(fields) == 3 else "")
        lines.append(number)
    if not us:
        raise InputError("no edges (only comments or blank lines)", path)
    w = np.array(ws, dtype=object) if any(ws) else None
    return np.array(us, dtype=object), np.array(vs, dtype=object), w, np.array(lines)


def _comments_only_at_line_starts(data: bytes) -> bool:
    """True when every '#' and '%' byte starts a comment line (pandas would cut a line at a
    '#' inside it, the exact scan would not)."""
    marks = data.count(b"#") + data.count(b"%")
    return marks == 0 or marks == len(re.findall(rb"(?m)^[ \t]*[#%]", data))


def _noncanonical_int_ids(data: bytes, chunk: int = 1 << 24) -> bool:
    """Whether some id (first or second field of a data line) of a file that pandas read as
    integers is not a canonical integer (``007``, ``+7``, ``-0``, ``1.0``, ``1e3``).

    Vectorised over the bytes (in chunks cut at line ends), then over the token starts."""
    at = 0
    while at < len(data):
        end = data.find(b"\n", min(at + chunk, len(data)))
        end = len(data) if end < 0 else end + 1
        b = np.frombuffer(data, np.uint8, end - at, at)
        at = end
        nl = (b == 10) | (b == 13)
        sep = (b == 32) | (b == 9) | (b == 44) | nl
        begin = ~sep
        begin[1:] &= sep[:-1]
        starts = np.flatnonzero(begin)  # first byte of each token
        if not len(starts):
            continue
        stops = np.flatnonzero(~sep & np.append(sep[1:], True)) + 1  # one past each token's last byte
        line = np.searchsorted(np.flatnonzero(nl), starts)  # line of each token
        t = np.arange(len(starts))
        first = np.maximum.accumulate(np.where(np.append(True, line[1:] != line[:-1]), t, 0))
        field = t - first  # 0-based field of each token in its line
        lead = b[starts[first]]
        is_id = (field <= 1) & (lead != 35) & (lead != 37)  # not in a '#'/'%' comment line
        s, length = b[starts[is_id]], (stops - starts)[is_id]
        nxt = b[np.minimum(starts[is_id] + 1, len(b) - 1)]
        if ((s == 43) | ((s == 48) & (length > 1)) | ((s == 45) & (nxt == 48))).any():  # +7, 07, -0
            return True
        odd = np.flatnonzero((b == 46) | (b == 101) | (b == 69))  # . e E inside a token
        if len(odd):
            tok = np.searchsorted(starts, odd, "right") - 1
            if is_id[tok[tok >= 0]].any():
                return True
    return False


def _read_table(data: bytes, sep: str, comment, dtype, chunksize: int):
    import pandas as pd

    return pd.read_csv(io.BytesIO(data), sep=sep, header=None, comment=comment, skip_blank_lines=True,
                       engine="c", chunksize=chunksize, dtype=dtype, keep_default_na=False,
                       na_filter=False, quoting=3, encoding="utf-8")


def _sniff(data: bytes, path: Path) -> tuple[str, str | None]:
    """The separator and comment character of a text table, read from its first lines."""
    comment = None
    for line in _LINES.split(data[:1 << 20].decode("utf-8", errors="ignore")):
        text = line.strip(" \t")
        if not text:
            continue
        if text[0] in COMMENT_CHARS:
            comment = comment or text[0]
            continue
        sep = "," if "," in text else ("\t" if "\t" in text and " " not in text else r"\s+")
        return sep, comment
    raise InputError("no data lines (only comments or blank lines)", path)


def _fast_columns(data: bytes, path: Path, chunksize: int):
    """(u, v, w, int_ids) by pandas' C reader, or None when the exact scan must read the file.

    Integer ids are read as integers when every one is canonical (several million edges a
    second); otherwise all columns are read as text, and the caller checks them."""
    import pandas as pd

    if b'"' in data or not _comments_only_at_line_starts(data):
        return None
    sep, _ = _sniff(data, path)
    hashes, percents = b"#" in data, b"%" in data
    if hashes and percents:
        return None  # pandas takes one comment character
    comment = "#" if hashes else ("%" if percents else None)  # anywhere in the file, not just at its top
    for as_int in (True, False):
        dtype = {0: np.int64, 1: np.int64, 2: np.float64} if as_int else str
        us, vs, ws, width = [], [], [], None
        try:
            with warnings.catch_warnings():  # pandas casts an id past int64 (then refuses it) noisily
                warnings.simplefilter("ignore", RuntimeWarning)
                parts = list(_read_table(data, sep, comment, dtype, chunksize))
            for part in parts:
                if part.shape[1] not in (2, 3) or (width is not None and part.shape[1] != width):
                    return None
                width = part.shape[1]
                u, v = part[0].to_numpy(), part[1].to_numpy()
                if not as_int and pd.Series(pd.unique(np.concatenate([u, v]))).str.contains(r"[ \t,]|^$").any():
                    return None  # ids with a space or comma, or empty: the scan splits them
                us.append(u), vs.append(v)
                if width == 3:
                    ws.append(part[2].to_numpy(dtype=np.float64 if as_int else object))
        except pd.errors.ParserError:  # ragged rows: the exact scan names the line
            return None
        except (ValueError, TypeError, OverflowError):
            if as_int:
                continue  # an id that is not an integer: read ids as text
            return None
        if not us:
            return None
        if as_int and _noncanonical_int_ids(data):
            continue  # '007', '1.0', '+7': ids that are text
        w = np.concatenate(ws) if ws else None
        return np.concatenate(us), np.concatenate(vs), w, as_int
    return None


def _canonical_ints(tokens: np.ndarray):
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
        return np.array([int(t) for t in text], dtype=np.int64) if len(text) < 1000 else text.astype(np.int64).to_numpy()
    except (OverflowError, ValueError):
        return None


def _normalise_ids(ids: np.ndarray) -> np.ndarray:
    """Ids as int64 when every one is a canonical integer, else as text."""
    uniques, codes = np.unique(ids.astype(str), return_inverse=True) if len(ids) else (ids, None)
    as_int = _canonical_ints(uniques)
    if as_int is None:
        return ids.astype(str)
    return as_int[codes]


def read_nodes(path) -> np.ndarray:
    """A node list: one id per line (the first column), in the order that fixes the output rows."""
    path = _existing_file(path)
    ids, seen = [], {}
    for number, fields in _data_lines(path):
        node = fields[0]
        if node in seen:
            raise InputError(f"node {show(node)} is listed twice (first on line {seen[node]})", path, number)
        seen[node] = number
        ids.append(node)
    if not ids:
        raise InputError("no node ids (only comments or blank lines)", path)
    return _normalise_ids(np.array(ids, dtype=object))


def _line_of(path: Path, token: str, column: int | None = None) -> int | None:
    """The first line whose id column(s) hold exactly ``token``."""
    for number, fields in _data_lines(path):
        cols = fields[:2] if column is None else fields[column:column + 1]
        if token in cols:
            return number
    return None


def _weights(w_text, path: Path, lines_of):
    """Edge weights from their text: a number >= 0 each (0: no edge); a bad one is an
    InputError naming its line (``lines_of()`` gives the line of each row)."""
    import pandas as pd

    if w_text.dtype.kind == "f":
        w = w_text
    else:
        w = pd.to_numeric(pd.Series(w_text, dtype=object).replace("", "1"), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        lines = lines_of()
        if w_text.dtype.kind == "f":  # read as numbers: take the text from the exact scan
            w_text = _scan_edges(path)[2]
        token = str(w_text[i])
        what = ("is not a number" if np.isnan(w[i]) and not _is_number(token)
                else "must be a finite number >= 0 (0: no edge)")
        raise InputError(f"weight {show(token)} {what}", path, int(lines[i]))
    return w


def read_edgelist(path, nodes: np.ndarray | None = None, chunksize: int = 2_000_000) -> EdgeList:
    """Read ``source target [weight]`` lines (any run of spaces, tabs or commas between fields;
    ``#``/``%`` comment lines; plain or gzip-compressed UTF-8).

    Node ids are text unless every id is a canonical integer (see the module docstring). Rows are
    ordered by ``nodes`` when given (its isolated nodes keep a row), else by integer id when ids
    are integers, else by first appearance. A first line of column names (``source target``,
    ``from,to,weight``, ...) is a header and skipped. Weights must be finite and >= 0; an edge of
    weight 0 is no edge (its nodes still get rows). Self-loops are kept here; graph construction
    drops them.
    """
    path = _existing_file(path)
    data = _raw_bytes(path)
    fast = _fast_columns(data, path, chunksize)
    lines = None
    if fast is None:
        us, vs, w_text, lines = _scan_edges(path)
        int_ids = False
    else:
        us, vs, w_text, int_ids = fast

    def lines_of():
        return lines if lines is not None else _scan_edges(path)[3]

    if not int_ids and len(us) > 1 and _header_like([us[0], vs[0]] + ([w_text[0]] if w_text is not None else [])):
        import pandas as pd

        rest = pd.unique(np.concatenate([us[1:], vs[1:]]))
        words = {str(us[0]).lower(), str(vs[0]).lower()} <= HEADER_WORDS
        if (w_text is not None and not _is_number(w_text[0]) and w_text[0] != "") or \
                (words and not {str(us[0]), str(vs[0])} & set(rest)) or \
                _canonical_ints(rest) is not None:
            head_lines = lines_of()
            us, vs = us[1:], vs[1:]
            w_text = None if w_text is None else w_text[1:]
            lines = head_lines[1:]
    ws = np.ones(len(us)) if w_text is None else _weights(w_text, path, lines_of)
    if nodes is not None:
        ids = nodes
        if int_ids:
            su, sv = us, vs
        else:
            su, sv = us.astype(str), vs.astype(str)
        src = _index_ids(ids, su, path, "the node list", None)
        dst = _index_ids(ids, sv, path, "the node list", None)
    else:
        import pandas as pd

        # interleaved (u1, v1, u2, v2, ...): text ids are numbered in the order a reader meets them
        codes, uniques = pd.factorize(np.stack([us, vs], 1).ravel())
        uniques = np.asarray(uniques)
        as_int = uniques.astype(np.int64) if int_ids else _canonical_ints(uniques)
        if as_int is not None:
            order = np.argsort(as_int, kind="stable")
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            ids, codes = as_int[order], rank[codes]
        else:
            ids = uniques.astype(str)
        src, dst = codes[0::2], codes[1::2]
    keep = ws > 0
    if not keep.all():  # weight 0: no edge (the nodes keep their rows)
        src, dst, ws = src[keep], dst[keep], ws[keep]
    return EdgeList(np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), ws.astype(np.float64), ids)


def _index_ids(ids: np.ndarray, wanted: np.ndarray, path: Path, where: str, column: int | None = 0) -> np.ndarray:
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
        raise InputError(f"node {show(token)} is not in {where}", path, _line_of(path, token, column))
    return order[pos]


def _load_array(path: Path, what: str):
    """The one array in a ``.npy`` or ``.npz`` (never unpickling); a scipy sparse ``.npz`` as CSR."""
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
                    raise InputError(f"a .npz of {what} must hold one array or one scipy sparse matrix, "
                                     f"found {len(archive.files)}: {', '.join(map(show, archive.files[:5]))}",
                                     path)
                return archive[archive.files[0]]
        return np.load(path, allow_pickle=False)
    except InputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise InputError(f"{what} must be numbers: the array holds Python objects (not read)", path) from None
        raise InputError(f"not a numeric {suffix} array ({exc})", path) from None
    except (OSError, EOFError, KeyError) as exc:
        raise InputError(f"cannot read the {suffix} array ({exc})", path) from None


def _check_finite_matrix(feats, path: Path, what: str, row_lines=None):
    """A 2-D numeric matrix with at least one row and one column and no NaN/inf."""
    import scipy.sparse as sp

    if feats.ndim != 2:
        raise InputError(f"{what} must be a 2-D matrix (rows x columns), got shape {feats.shape}", path)
    if feats.shape[0] == 0 or feats.shape[1] == 0:
        raise InputError(f"{what} must have at least one row and one column, got shape {feats.shape}", path)
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
        raise InputError(f"{what} contain NaN or inf (first in row {row + 1} of {feats.shape[0]}, "
                         "counting from 1)", path)


def read_features(path, ids: np.ndarray | None = None) -> np.ndarray:
    """Node features as a float32 matrix whose rows follow ``ids``.

    ``.npy`` / ``.npz`` rows are already in node order (that of ``--nodes``, or integer ids
    ``0..rows-1``); a ``.csv`` has the node id in its first column and may list rows in any order
    (a first line that is not numbers is a header).
    A ``.npz`` written by ``scipy.sparse.save_npz`` stays sparse (CSR).
    """
    path = _existing_file(path)
    suffix = path.suffix.lower()
    row_lines = None
    if suffix in (".npy", ".npz"):
        feats = _load_array(path, "features")
    elif suffix in (".csv", ".tsv", ".txt", ".gz"):
        feats, row_ids, row_lines = _read_feature_table(path)
        if ids is not None:
            rows = _index_ids(ids, row_ids, path, "the graph")
            if len(row_ids) != len(ids):
                missing = np.setdiff1d(ids.astype(str), row_ids.astype(str))
                raise InputError(f"{len(missing)} graph nodes have no feature row (first: {show(missing[0])})",
                                 path)
            out = np.empty_like(feats)
            out[rows] = feats
            lines = np.empty_like(row_lines)
            lines[rows] = row_lines
            feats, row_lines = out, lines
    else:
        raise InputError(f"unknown features format {suffix!r}: use .npy, .npz or .csv", path)
    _check_finite_matrix(feats, path, "features", row_lines)
    if ids is not None and suffix in (".npy", ".npz") and feats.shape[0] != len(ids):
        raise InputError(f"features have {feats.shape[0]} rows but the graph has {len(ids)} nodes "
                         "(rows follow --nodes, or integer ids 0..rows-1)", path)
    return feats.astype(np.float32)


def read_matrix(path) -> np.ndarray:
    """A data matrix (points x features) for DR/KD: ``.npy``, ``.npz`` (one array or a scipy
    sparse matrix) or a delimited text file of numbers only (one header line allowed)."""
    path = _existing_file(path)
    if path.suffix.lower() in (".npy", ".npz"):
        X = _load_array(path, "the data")
        _check_finite_matrix(X, path, "the data")
        _check_float32_range(X, path)
        return X.astype(np.float32)
    rows, width, lines = [], None, []
    for number, fields in _data_lines(path):
        try:
            vec = [float(v) for v in fields]
        except ValueError:
            if not rows and width is None:  # a header line
                width = -1
                continue
            bad = next(v for v in fields if not _is_number(v))
            raise InputError(f"value {show(bad)} is not a number (this file holds numbers only, no id "
                             "column)", path, number) from None
        if width in (None, -1):
            width = len(vec)
        if len(vec) != width:
            raise InputError(f"expected {width} values (as on the first row), found {len(vec)}", path, number)
        rows.append(vec)
        lines.append(number)
    if not rows:
        raise InputError("no data rows", path)
    X = np.asarray(rows, dtype=np.float64)
    _check_finite_matrix(X, path, "the data", lines)
    _check_float32_range(X, path)
    return X.astype(np.float32)


def _check_float32_range(X, path: Path) -> None:
    import scipy.sparse as sp

    data = X.data if sp.issparse(X) else X
    top = float(np.abs(data).max()) if data.size else 0.0
    if top > 1e30:
        raise InputError(f"values up to {top:.3g} are too large for float32 arithmetic (distances overflow): "
                         "rescale the data", path)


def read_images(path) -> np.ndarray:
    """An array of images for SSL: ``.npy`` or ``.npz`` (one array), any number of dimensions
    (the task checks the shape: (n, H, W), (n, C, H, W), or flattened rows with a shape)."""
    import scipy.sparse as sp

    path = _existing_file(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise InputError(f"images must be a .npy or .npz array, not {suffix or 'a file without a suffix'}", path)
    images = _load_array(path, "images")
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


def _read_feature_table(path: Path):
    """(values, row ids, line of each row) of an id-first table of numbers."""
    rows, values, width, lines, seen = [], [], None, [], {}
    for number, fields in _data_lines(path):
        try:
            vec = [float(v) for v in fields[1:]]
        except ValueError:
            if not rows:  # a header line
                continue
            bad = next(v for v in fields[1:] if not _is_number(v))
            raise InputError(f"feature value {show(bad)} is not a number", path, number) from None
        if width is None:
            width = len(vec)
        if width == 0:
            raise InputError("expected a node id and at least one feature value, found one column", path, number)
        if len(vec) != width:
            raise InputError(f"expected an id and {width} feature values (as on line {lines[0]}), found "
                             f"{len(fields)} columns", path, number)
        if fields[0] in seen:
            raise InputError(f"node {show(fields[0])} has two feature rows (first on line {seen[fields[0]]})",
                             path, number)
        seen[fields[0]] = number
        rows.append(fields[0])
        values.append(vec)
        lines.append(number)
    if not rows:
        raise InputError("no feature rows", path)
    return (np.asarray(values, dtype=np.float64), _normalise_ids(np.array(rows, dtype=object)),
            np.asarray(lines))


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
    path = _existing_file(path)
    lines = list(_data_lines(path))
    if not lines:
        raise InputError("no labels (only comments or blank lines)", path)
    if all(len(f) == 1 for _, f in lines):
        if len(lines) != num_rows:
            raise InputError(f"{len(lines)} labels for {num_rows} embedding rows (one label per row, or "
                             "'node label' lines)", path)
        raw = np.array([f[0] for _, f in lines], dtype=object)
        as_int = _canonical_ints(raw)
        keep = np.arange(num_rows) if as_int is None else np.flatnonzero(as_int >= 0)
        classes, y = np.unique((raw if as_int is None else as_int)[keep].astype(str), return_inverse=True)
        return Labels(keep, y, classes, False)
    if len(lines) > 1 and len(lines[0][1]) == 2 and _header_like(lines[0][1]) and \
            {f.lower() for f in lines[0][1]} <= HEADER_WORDS | {"label", "class", "labels", "id", "category"}:
        lines = lines[1:]  # a header such as 'node label'
    seen = {}
    for number, fields in lines:
        if len(fields) != 2:
            raise InputError(f"expected 'node label', found {len(fields)} columns", path, number)
        key = (fields[0], fields[1])
        if key in seen:
            raise InputError(f"node {show(fields[0])} has label {show(fields[1])} twice (first on line "
                             f"{seen[key]})", path, number)
        seen[key] = number
    nodes = _normalise_ids(np.array([f[0] for _, f in lines], dtype=object))
    labs = np.array([f[1] for _, f in lines], dtype=str)
    if ids is None:
        ids = np.arange(num_rows)
    rows = _index_ids(ids, nodes, path, "the embeddings' nodes")
    classes, lab_idx = np.unique(labs, return_inverse=True)
    uniq_rows, inverse = np.unique(rows, return_inverse=True)
    counts = np.bincount(inverse)
    if counts.max() == 1:
        return Labels(rows, lab_idx, classes, False)
    y = np.zeros((len(uniq_rows), len(classes)), dtype=np.int8)
    y[inverse, lab_idx] = 1
    return Labels(uniq_rows, y, classes, True)


# --- writing -----------------------------------------------------------------------------

def check_output_path(path, suffixes=(".npy", ".csv", ".parquet")) -> Path:
    """Fail before any work when an output cannot be written: missing or unwritable folder,
    unknown format, a folder in the way (also of the ``.nodes.txt`` beside a ``.npy``)."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"unknown output format {path.suffix!r}: use {', '.join(suffixes)}", path)
    if not path.parent.exists():
        raise InputError("the output's folder does not exist", path)
    if not path.parent.is_dir():
        raise InputError("the output's folder is a file", path)
    for target in ([path, nodes_path_for(path)] if path.suffix.lower() == ".npy" else [path]):
        if target.is_dir():
            raise InputError("is a folder, where an output file goes", target)
    try:  # the one sure test of a folder's permissions (and of a read-only file system)
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write in the output's folder ({exc.strerror})", path) from None
    return path


def _file_mode(path: Path) -> int:
    """An output's permissions: those of the file it replaces, else 0666 less the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


@contextmanager
def atomic_files(*paths, modes=None):
    """Write several outputs as one: yields an open temporary file for each of ``paths``
    (``modes``: 'wb' or 'w' each, default 'wb'); when the block ends without an error, all of
    them replace their paths, else none does.

    Every file is written and flushed to disk before the first rename; if a rename fails,
    the ones already renamed are put back (from hard links made beforehand), so a failed
    write leaves the previous outputs as they were. New files get 0666 less the umask; a
    replaced file keeps its permissions."""
    paths = [Path(p) for p in paths]
    modes = modes or ["wb"] * len(paths)
    temps, handles = [], []
    try:
        for path, mode in zip(paths, modes):
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append(Path(tmp))
            os.fchmod(fd, _file_mode(path))
            handles.append(os.fdopen(fd, mode))
        yield handles if len(handles) > 1 else handles[0]
        for fh in handles:
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()
        _replace_all(list(zip(temps, paths)))
    finally:
        for fh in handles:
            fh.close()
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def _replace_all(pairs) -> None:
    """Rename each (temporary, final) pair; on a failure, restore the finals renamed so far."""
    backups, done = {}, []
    try:
        for _, final in pairs:
            if final.exists():
                fd, bak = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".bak", dir=final.parent)
                os.close(fd)
                os.unlink(bak)
                os.link(final, bak)
                backups[final] = Path(bak)
        for tmp, final in pairs:
            os.replace(tmp, final)
            done.append(final)
    except BaseException:
        for final in reversed(done):
            if final in backups:
                os.replace(backups.pop(final), final)
            else:
                final.unlink(missing_ok=True)
        raise
    finally:
        for bak in backups.values():
            bak.unlink(missing_ok=True)


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Write to a temporary file beside ``path`` and rename it into place only on success
    (one file of :func:`atomic_files`)."""
    with atomic_files(path, modes=[mode]) as fh:
        yield fh


def nodes_path_for(path) -> Path:
    """``emb.npy`` -> ``emb.nodes.txt``: the node id of each embedding row."""
    path = Path(path)
    return path.with_name(path.stem + ".nodes.txt")


def _csv_field(value) -> str:
    text = str(value)
    if any(c in text for c in ',"\n\r') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text


def write_embeddings(path, Z: np.ndarray, ids: np.ndarray) -> list[Path]:
    """Write ``Z`` as .npy (+ ``.nodes.txt`` beside it: both replaced together or neither), .csv
    (id first) or .parquet; atomically."""
    path = check_output_path(path)
    Z = np.asarray(Z)
    if len(ids) != len(Z):
        raise ValueError(f"{len(ids)} ids for {len(Z)} rows")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with atomic_files(path, nodes_path_for(path), modes=["wb", "w"]) as (fz, fn):
            np.save(fz, np.ascontiguousarray(Z))
            fn.write("".join(f"{v}\n" for v in ids))
        return [path, nodes_path_for(path)]
    if suffix == ".csv":
        with atomic_write(path, "w") as fh:
            fh.write("node," + ",".join(f"z{i}" for i in range(Z.shape[1])) + "\n")
            for node, row in zip(ids, Z):
                fh.write(_csv_field(node) + "," + ",".join(f"{v:.7g}" for v in row) + "\n")
    else:
        import pandas as pd

        frame = pd.DataFrame(Z, columns=[f"z{i}" for i in range(Z.shape[1])])
        frame.insert(0, "node", ids)
        with atomic_write(path) as fh:
            frame.to_parquet(fh, index=False)
    return [path]


def read_embeddings(path) -> tuple[np.ndarray, np.ndarray | None]:
    """Embeddings written by :func:`write_embeddings` (or any .npy/.csv/.parquet), and row ids
    (as text unless every one is a canonical integer)."""
    import scipy.sparse as sp

    path = _existing_file(path)
    suffix = path.suffix.lower()
    where = path
    if suffix in (".npy", ".npz"):
        Z = _load_array(path, "embeddings")
        Z = Z.toarray() if sp.issparse(Z) else np.asarray(Z)
        ids_file = nodes_path_for(path)
        ids = read_nodes(ids_file) if ids_file.exists() else None
        where = ids_file
    elif suffix in (".csv", ".parquet"):
        import pandas as pd

        try:
            if suffix == ".csv":
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
            else:
                frame = pd.read_parquet(path)
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise InputError(f"cannot read the table ({str(exc).splitlines()[0][:200]})", path) from None
        if frame.shape[1] < 2:
            raise InputError("expected a node id column and at least one value column", path)
        ids = _normalise_ids(frame.iloc[:, 0].astype(str).to_numpy(dtype=object))
        values = frame.iloc[:, 1:]
        try:
            Z = values.apply(pd.to_numeric).to_numpy(np.float64)
        except (ValueError, TypeError):
            bad = pd.isna(values.apply(pd.to_numeric, errors="coerce")).to_numpy()
            row = int(np.argmax(bad.any(1)))
            raise InputError(f"a value is not a number ({show(values.iloc[row].to_numpy()[bad[row]][0])})",
                             path, row + 2 if suffix == ".csv" else None) from None
    else:
        raise InputError(f"unknown embedding format {suffix!r}: use .npy, .csv or .parquet", path)
    _check_finite_matrix(Z, path, "embeddings")
    if ids is not None and len(ids) != len(Z):
        raise InputError(f"{len(ids)} node ids for {len(Z)} embedding rows", where)
    if ids is not None and len(np.unique(ids.astype(str))) != len(ids):
        raise InputError("node ids repeat: each embedding row needs its own id", where)
    return Z.astype(np.float32), ids


def write_json(path, obj) -> None:
    with atomic_write(check_output_path(path, (".json",)), "w") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
