"""Reading text files: existence checks, bytes (gzip, BOM, UTF-8), data lines and tokens."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from ..errors import InputError


COMMENT_CHARS = ("#", "%")


_SPLIT = re.compile(r"[ \t,]+")


_LINES = re.compile(r"\r\n|\r|\n")


# Column names a header line may use; a first line of such words is a header, not an edge.
HEADER_WORDS = {
    "source",
    "target",
    "src",
    "dst",
    "from",
    "to",
    "node",
    "node1",
    "node2",
    "node_1",
    "node_2",
    "head",
    "tail",
    "id1",
    "id2",
    "source_id",
    "target_id",
    "weight",
    "start",
    "end",
    "sender",
    "receiver",
    "from_node",
    "to_node",
    "source_node",
    "target_node",
}


def show(value, limit: int = 60) -> str:
    """A value for a message: quoted plain text (no numpy repr), cut to ``limit`` characters."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + f"... ({len(text)} characters)"
    return repr(text)


def existing_file(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", path)
    if path.is_dir():
        raise InputError("is a folder, expected a file", path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path)
    return path


def raw_bytes(path: Path) -> bytes:
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
        raise InputError(
            "a compressed archive (zip, bzip2 or xz): decompress it first, or gzip it", path
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            "binary data (a NUL byte), not a text file", path, data.count(b"\n", 0, nul) + 1
        )
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}): save the file as UTF-8",
            path,
            data.count(b"\n", 0, exc.start) + 1,
        ) from None
    return data


def text_lines(path: Path):
    """Yield (line number, line text) of a text file (see :func:`raw_bytes`)."""
    text = raw_bytes(path).decode("utf-8")
    for number, line in enumerate(_LINES.split(text), start=1):
        yield number, line


def data_lines(path: Path):
    """Yield (line number, fields) for each non-blank, non-comment line, splitting on any run
    of commas, tabs and spaces."""
    for number, line in text_lines(path):
        text = line.strip(" \t")
        if not text or text.startswith(COMMENT_CHARS):
            continue
        fields = [f for f in _SPLIT.split(text) if f]
        if fields:
            yield number, fields


def is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def header_like(fields) -> bool:
    return all(re.fullmatch(r"[A-Za-z_][\w.\-]*", f) and not is_number(f) for f in fields)
