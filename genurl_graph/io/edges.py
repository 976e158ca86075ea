"""Edge lists and node lists: pandas' C reader first, an exact line scan when it cannot read a
file."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .ids import canonical_ints, index_ids, normalise_ids
from .text import (
    COMMENT_CHARS,
    HEADER_WORDS,
    _LINES,
    data_lines,
    existing_file,
    header_like,
    is_number,
    raw_bytes,
    show,
)


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


def _scan_edges(path: Path):
    """Slow, exact reading of an edge list: the text columns (weight column None when no line
    has one) and the line number of each row; raises on a line with a wrong number of columns."""
    us, vs, ws, lines = [], [], [], []
    for number, fields in data_lines(path):
        if len(fields) < 2:
            raise InputError(
                f"expected 'source target [weight]', found one column: {show(fields[0])}",
                path,
                number,
            )
        if len(fields) > 3:
            raise InputError(
                f"expected at most 3 columns (source target weight), found {len(fields)}",
                path,
                number,
            )
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


def _noncanonical_int_ids(data: bytes, width: int | None = None, chunk: int = 1 << 24) -> bool:
    """Whether some id (first or second field of a data line) of a file that pandas read as
    integers is not a canonical integer (``007``, ``+7``, ``-0``, ``1.0``, ``1e3``).

    Vectorised over the bytes (in chunks cut at line ends), then over the token starts. Given
    ``width``, the caller's word that every line holds that many tokens (no comment lines, no
    short rows), a token's field is its number modulo ``width``; with None each token's line is
    looked up (3x slower)."""
    plain = width is not None
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
        # one past each token's last byte
        stops = np.flatnonzero(~sep & np.append(sep[1:], True)) + 1
        if plain:  # the chunk starts a line: token t is field t % width
            is_id = np.ones(len(starts), dtype=bool)
            if width > 2:
                is_id[2::width] = False
        else:
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

    return pd.read_csv(
        io.BytesIO(data),
        sep=sep,
        header=None,
        comment=comment,
        skip_blank_lines=True,
        engine="c",
        chunksize=chunksize,
        dtype=dtype,
        keep_default_na=False,
        na_filter=False,
        quoting=3,
        encoding="utf-8",
    )


def _sniff(data: bytes, path: Path) -> tuple[str, str | None]:
    """The separator and comment character of a text table, read from its first lines."""
    comment = None
    for line in _LINES.split(data[: 1 << 20].decode("utf-8", errors="ignore")):
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
    # anywhere in the file, not just at its top
    comment = "#" if hashes else ("%" if percents else None)
    for as_int in (True, False):
        dtype = {0: np.int64, 1: np.int64, 2: np.float64} if as_int else str
        us, vs, ws, width = [], [], [], None
        try:
            # pandas casts an id past int64 (then refuses it) noisily
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                parts = list(_read_table(data, sep, comment, dtype, chunksize))
            for part in parts:
                if part.shape[1] not in (2, 3) or (width is not None and part.shape[1] != width):
                    return None
                width = part.shape[1]
                u, v = part[0].to_numpy(), part[1].to_numpy()
                if (
                    not as_int
                    and pd.Series(pd.unique(np.concatenate([u, v])))
                    .str.contains(r"[ \t,]|^$")
                    .any()
                ):
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
        w = np.concatenate(ws) if ws else None
        if as_int:
            # short rows (no weight) leave NaN weights, and comment lines hold other tokens:
            # then tokens do not come `width` a line
            full = comment is None and (w is None or not np.isnan(w).any())
            if _noncanonical_int_ids(data, width if full else None):
                continue  # '007', '1.0', '+7': ids that are text
        return np.concatenate(us), np.concatenate(vs), w, as_int
    return None


def read_nodes(path) -> np.ndarray:
    """A node list: one id per line (the first column), in the order that fixes the output rows."""
    path = existing_file(path)
    ids, seen = [], {}
    for number, fields in data_lines(path):
        node = fields[0]
        if node in seen:
            raise InputError(
                f"node {show(node)} is listed twice (first on line {seen[node]})", path, number
            )
        seen[node] = number
        ids.append(node)
    if not ids:
        raise InputError("no node ids (only comments or blank lines)", path)
    return normalise_ids(np.array(ids, dtype=object))


def _weights(w_text, path: Path, lines_of):
    """Edge weights from their text: a number >= 0 each (0: no edge); a bad one is an
    InputError naming its line (``lines_of()`` gives the line of each row)."""
    import pandas as pd

    if w_text.dtype.kind == "f":
        w = w_text
    else:
        w = pd.to_numeric(
            pd.Series(w_text, dtype=object).replace("", "1"), errors="coerce"
        ).to_numpy(np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        lines = lines_of()
        if w_text.dtype.kind == "f":  # read as numbers: take the text from the exact scan
            w_text = _scan_edges(path)[2]
        token = str(w_text[i])
        what = (
            "is not a number"
            if np.isnan(w[i]) and not is_number(token)
            else "must be a finite number >= 0 (0: no edge)"
        )
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
    path = existing_file(path)
    data = raw_bytes(path)
    fast = _fast_columns(data, path, chunksize)
    lines = None
    if fast is None:
        us, vs, w_text, lines = _scan_edges(path)
        int_ids = False
    else:
        us, vs, w_text, int_ids = fast

    def lines_of():
        return lines if lines is not None else _scan_edges(path)[3]

    if (
        not int_ids
        and len(us) > 1
        and header_like([us[0], vs[0]] + ([w_text[0]] if w_text is not None else []))
    ):
        import pandas as pd

        rest = pd.unique(np.concatenate([us[1:], vs[1:]]))
        words = {str(us[0]).lower(), str(vs[0]).lower()} <= HEADER_WORDS
        if (
            (w_text is not None and not is_number(w_text[0]) and w_text[0] != "")
            or (words and not {str(us[0]), str(vs[0])} & set(rest))
            or canonical_ints(rest) is not None
        ):
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
        src = index_ids(ids, su, path, "the node list", None)
        dst = index_ids(ids, sv, path, "the node list", None)
    else:
        import pandas as pd

        # interleaved (u1, v1, u2, v2, ...): text ids are numbered in the order a reader meets them
        codes, uniques = pd.factorize(np.stack([us, vs], 1).ravel())
        uniques = np.asarray(uniques)
        as_int = uniques.astype(np.int64) if int_ids else canonical_ints(uniques)
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
    return EdgeList(
        np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), ws.astype(np.float64), ids
    )
