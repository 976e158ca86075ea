"""Writing outputs: checked paths, several files replaced as one (atomic), embeddings and their
ids."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import InputError
from .arrays import check_finite_matrix, load_array
from .edges import read_nodes
from .ids import normalise_ids
from .text import existing_file, show


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
    for target in [path, nodes_path_for(path)] if path.suffix.lower() == ".npy" else [path]:
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
                fd, bak = tempfile.mkstemp(
                    prefix=f".{final.name}.", suffix=".bak", dir=final.parent
                )
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

    path = existing_file(path)
    suffix = path.suffix.lower()
    where = path
    if suffix in (".npy", ".npz"):
        Z = load_array(path, "embeddings")
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
            raise InputError(
                f"cannot read the table ({str(exc).splitlines()[0][:200]})", path
            ) from None
        if frame.shape[1] < 2:
            raise InputError("expected a node id column and at least one value column", path)
        ids = normalise_ids(frame.iloc[:, 0].astype(str).to_numpy(dtype=object))
        values = frame.iloc[:, 1:]
        try:
            Z = values.apply(pd.to_numeric).to_numpy(np.float64)
        except (ValueError, TypeError):
            bad = pd.isna(values.apply(pd.to_numeric, errors="coerce")).to_numpy()
            row = int(np.argmax(bad.any(1)))
            raise InputError(
                f"a value is not a number ({show(values.iloc[row].to_numpy()[bad[row]][0])})",
                path,
                row + 2 if suffix == ".csv" else None,
            ) from None
    else:
        raise InputError(f"unknown embedding format {suffix!r}: use .npy, .csv or .parquet", path)
    check_finite_matrix(Z, path, "embeddings")
    if ids is not None and len(ids) != len(Z):
        raise InputError(f"{len(ids)} node ids for {len(Z)} embedding rows", where)
    if ids is not None and len(np.unique(ids.astype(str))) != len(ids):
        raise InputError("node ids repeat: each embedding row needs its own id", where)
    return Z.astype(np.float32), ids


def write_json(path, obj) -> None:
    with atomic_write(check_output_path(path, (".json",)), "w") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
