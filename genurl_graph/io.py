"""Reading user files (edge lists, node lists, features, labels) and writing outputs atomically.

Every problem in a file becomes an :class:`InputError` naming the file and, where it has one,
the line. Edge lists are parsed by pandas' C reader (no Python loop per edge); only when that
fast path meets something it cannot read does a line-by-line scan run, to name the bad line.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

COMMENT_CHARS = ("#", "%")


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


def _data_lines(path: Path):
    """Yield (line number, fields) for each non-blank, non-comment line, splitting on , tab or space."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith(COMMENT_CHARS):
                continue
            yield number, text.replace(",", " ").split()


def _sniff(path: Path) -> tuple[str, str | None]:
    """The separator and comment character of a text table, read from its first lines."""
    comment = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for _, line in zip(range(10000), fh):
            text = line.strip()
            if not text:
                continue
            if text[0] in COMMENT_CHARS:
                comment = comment or text[0]
                continue
            sep = "," if "," in text else ("\t" if "\t" in text and " " not in text.strip() else r"\s+")
            return sep, comment
    raise InputError("no data lines (only comments or blank lines)", path)


def _scan_edges(path: Path):
    """Slow, exact parse of an edge list: raises on the first bad line, else returns its columns."""
    us, vs, ws = [], [], []
    for number, fields in _data_lines(path):
        if len(fields) < 2:
            raise InputError(f"expected 'source target [weight]', found one column: {' '.join(fields)!r}",
                             path, number)
        if len(fields) > 3:
            raise InputError(f"expected at most 3 columns (source target weight), found {len(fields)}",
                             path, number)
        weight = 1.0
        if len(fields) == 3:
            try:
                weight = float(fields[2])
            except ValueError:
                raise InputError(f"weight {fields[2]!r} is not a number", path, number) from None
            if not np.isfinite(weight) or weight <= 0:
                raise InputError(f"weight {fields[2]!r} must be a positive finite number", path, number)
        us.append(fields[0])
        vs.append(fields[1])
        ws.append(weight)
    if not us:
        raise InputError("no edges (only comments or blank lines)", path)
    return np.array(us, dtype=object), np.array(vs, dtype=object), np.array(ws, dtype=np.float64)


def _fast_edges(path: Path, chunksize: int):
    """Columns of an edge list by pandas' C reader, in chunks; None when it needs the exact scan.

    Integer ids are read as integers (several million edges a second); other ids as strings.
    """
    import pandas as pd

    sep, comment = _sniff(path)
    if comment is not None:
        # pandas takes one comment character; a file that mixes both goes to the exact scan.
        other = [c for c in COMMENT_CHARS if c != comment]
        with open(path, "rb") as fh:
            if any(line.lstrip().startswith(other[0].encode()) for line in fh):
                return None
    for id_type in (np.int64, str):
        us, vs, ws = [], [], []
        try:
            reader = pd.read_csv(path, sep=sep, header=None, comment=comment, skip_blank_lines=True,
                                 engine="c", chunksize=chunksize, dtype={0: id_type, 1: id_type},
                                 keep_default_na=False, na_filter=id_type is not str)
            for chunk in reader:
                if chunk.shape[1] < 2 or chunk.shape[1] > 3:
                    return None
                u, v = chunk[0].to_numpy(), chunk[1].to_numpy()
                if id_type is str and (v == "").any():
                    return None
                if chunk.shape[1] == 3:
                    w = pd.to_numeric(chunk[2], errors="coerce").to_numpy(np.float64)
                    if not (np.isfinite(w) & (w > 0)).all():
                        return None
                else:
                    w = np.ones(len(chunk))
                us.append(u), vs.append(v), ws.append(w)
        except pd.errors.ParserError:  # ragged rows: the exact scan names the line
            return None
        except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
            if id_type is str:
                return None
            continue  # an id that is not an integer (or a missing column): read ids as strings
        if not us:
            return None
        return np.concatenate(us), np.concatenate(vs), np.concatenate(ws)
    return None


def _as_int_ids(values: np.ndarray):
    """Integer view of string ids when every one is an integer, else None."""
    if values.dtype.kind == "i":
        return values.astype(np.int64, copy=False)
    try:
        out = values.astype(np.int64)
    except (ValueError, OverflowError):
        return None
    return out


def read_nodes(path) -> np.ndarray:
    """A node list: one id per line (the first column), in the order that fixes the output rows."""
    path = _existing_file(path)
    ids, seen = [], {}
    for number, fields in _data_lines(path):
        node = fields[0]
        if node in seen:
            raise InputError(f"node {node!r} is listed twice (first on line {seen[node]})", path, number)
        seen[node] = number
        ids.append(node)
    if not ids:
        raise InputError("no node ids (only comments or blank lines)", path)
    return _normalise_ids(np.array(ids, dtype=object))


def _normalise_ids(ids: np.ndarray) -> np.ndarray:
    as_int = _as_int_ids(ids)
    return as_int if as_int is not None else ids.astype(str)


def _line_of(path: Path, token: str, column: int | None = None) -> int | None:
    for number, fields in _data_lines(path):
        cols = fields[:2] if column is None else fields[column:column + 1]
        if token in cols or any(_same_id(token, c) for c in cols):
            return number
    return None


def _same_id(a: str, b: str) -> bool:
    try:
        return int(a) == int(b)
    except ValueError:
        return False


def read_edgelist(path, nodes: np.ndarray | None = None, chunksize: int = 2_000_000) -> EdgeList:
    """Read ``source target [weight]`` lines (space, tab or comma separated; ``#``/``%`` comments).

    Node ids may be integers or strings. Rows are ordered by ``nodes`` when given (its isolated
    nodes keep a row), else by integer id when all ids are integers, else by first appearance.
    Self-loops are kept here; graph construction drops them.
    """
    path = _existing_file(path)
    parsed = _fast_edges(path, chunksize)
    if parsed is None:
        parsed = _scan_edges(path)  # raises with the line number, or parses what pandas could not
    us, vs, ws = parsed
    us_i, vs_i = _as_int_ids(us), _as_int_ids(vs)
    if nodes is not None:
        ids = nodes
        int_ids = us_i is not None and vs_i is not None
        src = _index_ids(ids, us_i if int_ids else us.astype(str), path, "the node list", None)
        dst = _index_ids(ids, vs_i if int_ids else vs.astype(str), path, "the node list", None)
    elif us_i is not None and vs_i is not None:
        ids, inverse = np.unique(np.concatenate([us_i, vs_i]), return_inverse=True)
        src, dst = inverse[: len(us_i)], inverse[len(us_i):]
    else:
        import pandas as pd

        codes, uniques = pd.factorize(np.concatenate([us.astype(str), vs.astype(str)]))
        ids = np.asarray(uniques, dtype=str)
        src, dst = codes[: len(us)], codes[len(us):]
    return EdgeList(src.astype(np.int64), dst.astype(np.int64), ws.astype(np.float64), ids)


def _index_ids(ids: np.ndarray, wanted: np.ndarray, path: Path, where: str, column: int | None = 0) -> np.ndarray:
    """Row of each wanted id in ``ids``; an unknown id is an InputError naming its line in
    ``path`` (looked for in ``column``, or in the first two when None)."""
    keys = ids.astype(str) if ids.dtype.kind != "i" or wanted.dtype.kind != "i" else ids
    wanted = wanted.astype(str) if keys.dtype.kind != "i" else wanted
    order = np.argsort(keys, kind="stable")
    pos = np.searchsorted(keys[order], wanted).clip(0, len(keys) - 1)
    bad = keys[order][pos] != wanted
    if bad.any():
        token = str(wanted[np.argmax(bad)])
        raise InputError(f"node {token!r} is not in {where}", path, _line_of(path, token, column))
    return order[pos]


def read_features(path, ids: np.ndarray | None = None) -> np.ndarray:
    """Node features as a float32 matrix whose rows follow ``ids``.

    ``.npy`` / ``.npz`` rows are already in node order (that of ``--nodes``, or integer ids
    ``0..rows-1``); a ``.csv`` has the node id in its first column and may list rows in any order.
    A ``.npz`` written by ``scipy.sparse.save_npz`` stays sparse (CSR).
    """
    import scipy.sparse as sp

    path = _existing_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            feats = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"not a numeric .npy array ({exc})", path) from None
    elif suffix == ".npz":
        try:
            feats = sp.load_npz(path).tocsr()
        except (ValueError, KeyError, OSError):
            with np.load(path, allow_pickle=False) as archive:
                if len(archive.files) != 1:
                    raise InputError("a .npz of features must hold one array or one scipy sparse matrix",
                                     path) from None
                feats = archive[archive.files[0]]
    elif suffix in (".csv", ".tsv", ".txt"):
        feats, row_ids = _read_feature_table(path)
        if ids is not None:
            if len(row_ids) != len(ids):
                missing = np.setdiff1d(ids.astype(str), row_ids.astype(str))
                if len(missing):
                    raise InputError(f"{len(missing)} graph nodes have no feature row "
                                     f"(first: {missing[0]!r})", path)
            rows = _index_ids(ids, row_ids, path, "the graph")
            out = np.empty_like(feats)
            out[rows] = feats
            feats = out
    else:
        raise InputError(f"unknown features format {suffix!r}: use .npy, .npz or .csv", path)
    if feats.ndim != 2:
        raise InputError(f"features must be a 2-D matrix (nodes x features), got shape {feats.shape}", path)
    data = feats.data if sp.issparse(feats) else feats
    if data.dtype.kind not in "biuf":
        raise InputError(f"features must be numeric, got dtype {data.dtype}", path)
    finite = np.isfinite(data)
    if not finite.all():
        bad = int(np.argmin(finite)) if not sp.issparse(feats) else None
        row = (bad // feats.shape[1]) if bad is not None else int(np.searchsorted(feats.indptr, np.argmin(finite), "right") - 1)
        raise InputError(f"features contain NaN or inf (first in row {row})", path)
    if ids is not None and suffix in (".npy", ".npz") and feats.shape[0] != len(ids):
        raise InputError(f"features have {feats.shape[0]} rows but the graph has {len(ids)} nodes "
                         "(rows follow --nodes, or integer ids 0..rows-1)", path)
    return feats.astype(np.float32)


def read_matrix(path) -> np.ndarray:
    """A data matrix (points x features) for DR/KD: ``.npy``, ``.npz`` (one array or a scipy
    sparse matrix) or a delimited text file of numbers only (one header line allowed)."""
    path = _existing_file(path)
    if path.suffix.lower() in (".npy", ".npz"):
        return read_features(path)
    rows, width = [], None
    for number, fields in _data_lines(path):
        try:
            vec = [float(v) for v in fields]
        except ValueError:
            if not rows and width is None:  # a header line
                width = -1
                continue
            raise InputError("a value is not a number", path, number) from None
        if width in (None, -1):
            width = len(vec)
        if len(vec) != width:
            raise InputError(f"expected {width} values, found {len(vec)}", path, number)
        rows.append(vec)
    if not rows:
        raise InputError("no data rows", path)
    return np.asarray(rows, dtype=np.float32)


def read_images(path) -> np.ndarray:
    """An array of images for SSL: ``.npy`` or ``.npz`` (one array), any number of dimensions
    (the task checks the shape: (n, H, W), (n, C, H, W), or flattened rows with a shape)."""
    path = _existing_file(path)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise InputError(f"images must be a .npy or .npz array, not {suffix or 'a file without a suffix'}", path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if suffix == ".npz":
            with loaded:
                if len(loaded.files) != 1:
                    raise InputError(f"a .npz of images must hold one array, found {len(loaded.files)}: "
                                     f"{', '.join(loaded.files[:5])}", path)
                loaded = loaded[loaded.files[0]]
        images = np.asarray(loaded)
    except InputError:
        raise
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read the array ({exc})", path) from None
    if images.dtype.kind not in "biuf":
        raise InputError(f"images must be numbers, found dtype {images.dtype}", path)
    return images


def _read_feature_table(path: Path):
    rows, values, width = [], [], None
    for number, fields in _data_lines(path):
        try:
            vec = [float(v) for v in fields[1:]]
        except ValueError:
            if not rows:  # a header line
                continue
            raise InputError("a feature value is not a number", path, number) from None
        if width is None:
            width = len(vec)
        if len(vec) != width or width == 0:
            raise InputError(f"expected an id and {width} feature values, found {len(fields)} columns",
                             path, number)
        rows.append(fields[0])
        values.append(vec)
    if not rows:
        raise InputError("no feature rows", path)
    return np.asarray(values, dtype=np.float64), _normalise_ids(np.array(rows, dtype=object))


@dataclass
class Labels:
    """Class labels of some rows: ``rows`` into the embedding, ``y`` (n,) or multi-hot (n, c)."""

    rows: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    multilabel: bool


def read_labels(path, ids: np.ndarray | None, num_rows: int) -> Labels:
    """Labels as ``node label`` lines (a node may appear on several lines: multi-label), or one
    label per line in row order (negative = unlabelled)."""
    path = _existing_file(path)
    lines = list(_data_lines(path))
    if not lines:
        raise InputError("no labels (only comments or blank lines)", path)
    if all(len(f) == 1 for _, f in lines):
        if len(lines) != num_rows:
            raise InputError(f"{len(lines)} labels for {num_rows} embedding rows", path)
        raw = np.array([f[0] for _, f in lines], dtype=object)
        as_int = _as_int_ids(raw)
        keep = np.arange(num_rows) if as_int is None else np.flatnonzero(as_int >= 0)
        classes, y = np.unique((raw if as_int is None else as_int)[keep].astype(str), return_inverse=True)
        return Labels(keep, y, classes, False)
    for number, fields in lines:
        if len(fields) != 2:
            raise InputError(f"expected 'node label', found {len(fields)} columns", path, number)
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
    """Fail before any work when an output cannot be written: missing folder or unknown format."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError("the output's folder does not exist", path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"unknown output format {path.suffix!r}: use {', '.join(suffixes)}", path)
    if path.is_dir():
        raise InputError("the output is a folder", path)
    return path


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """Write to a temporary file beside ``path`` and rename it into place only on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def nodes_path_for(path) -> Path:
    """``emb.npy`` -> ``emb.nodes.txt``: the node id of each embedding row."""
    path = Path(path)
    return path.with_name(path.stem + ".nodes.txt")


def write_embeddings(path, Z: np.ndarray, ids: np.ndarray) -> list[Path]:
    """Write ``Z`` as .npy (+ ``.nodes.txt`` beside it), .csv (id first) or .parquet; atomically."""
    path = check_output_path(path)
    suffix = path.suffix.lower()
    written = [path]
    if suffix == ".npy":
        with atomic_write(nodes_path_for(path), "w") as fh:
            fh.write("\n".join(map(str, ids)) + "\n")
        with atomic_write(path) as fh:
            np.save(fh, np.ascontiguousarray(Z))
        written.append(nodes_path_for(path))
    elif suffix == ".csv":
        with atomic_write(path, "w") as fh:
            fh.write("node," + ",".join(f"z{i}" for i in range(Z.shape[1])) + "\n")
            for node, row in zip(ids, Z):
                fh.write(f"{node}," + ",".join(f"{v:.7g}" for v in row) + "\n")
    else:
        import pandas as pd

        frame = pd.DataFrame(Z, columns=[f"z{i}" for i in range(Z.shape[1])])
        frame.insert(0, "node", ids)
        with atomic_write(path) as fh:
            frame.to_parquet(fh, index=False)
    return written


def read_embeddings(path) -> tuple[np.ndarray, np.ndarray | None]:
    """Embeddings written by :func:`write_embeddings` (or any .npy/.csv/.parquet), and row ids."""
    path = _existing_file(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            Z = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"not a numeric .npy array ({exc})", path) from None
        ids_file = nodes_path_for(path)
        ids = read_nodes(ids_file) if ids_file.exists() else None
    elif suffix in (".csv", ".parquet"):
        import pandas as pd

        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
        ids = _normalise_ids(frame.iloc[:, 0].astype(str).to_numpy(dtype=object))
        Z = frame.iloc[:, 1:].to_numpy(np.float32)
    else:
        raise InputError(f"unknown embedding format {suffix!r}: use .npy, .csv or .parquet", path)
    if Z.ndim != 2:
        raise InputError(f"embeddings must be 2-D, got shape {Z.shape}", path)
    if ids is not None and len(ids) != len(Z):
        raise InputError(f"{len(ids)} node ids for {len(Z)} embedding rows", nodes_path_for(path))
    return Z.astype(np.float32), ids


def write_json(path, obj) -> None:
    with atomic_write(check_output_path(path, (".json",)), "w") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
