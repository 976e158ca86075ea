"""File-level evaluations behind ``genurl eval``: read embeddings, labels and split, then probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import io as gio
from ..errors import InputError
from .nodes import linear_probe


def _read_split(path: Path, ids, labels: gio.Labels) -> dict:
    path = gio.existing_file(path)
    try:
        raw = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", path, exc.lineno) from None
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k, []), list) for k in ("train", "val", "test")
    ):
        raise InputError(
            'the split must be a JSON object {"train": [...], "val": [...], "test": [...]}', path
        )
    missing = {"train", "val", "test"} - set(raw)
    if missing:
        raise InputError(
            f"the split needs train, val and test lists (missing {', '.join(sorted(missing))})",
            path,
        )
    pos_of_row = {int(r): i for i, r in enumerate(labels.rows)}
    split = {}
    for part in ("train", "val", "test"):
        wanted = np.asarray([str(v) for v in raw[part]], dtype=object)
        wanted = gio.normalise_ids(wanted) if len(wanted) else np.zeros(0, np.int64)
        rows = (
            gio.index_ids(ids, wanted, Path(path), "the embeddings' nodes", None)
            if len(wanted)
            else np.zeros(0, np.int64)
        )
        unlabelled = [int(r) for r in rows if int(r) not in pos_of_row]
        if unlabelled:
            raise InputError(
                f"{len(unlabelled)} {part} nodes have no label (first: row {unlabelled[0]})", path
            )
        split[part] = np.array([pos_of_row[int(r)] for r in rows], dtype=np.int64)
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        both = np.intersect1d(split[a], split[b])
        if len(both):
            raise InputError(
                f"the {a} and {b} lists share {len(both)} nodes (first: "
                f"{gio.show(ids[labels.rows[both[0]]])}): they must be disjoint",
                path,
            )
    return split


def node_classification(
    embeddings,
    labels,
    split=None,
    random_splits: bool = False,
    seeds: int = 5,
    train_ratio: float = 0.5,
) -> dict:
    """Probe the embeddings in a file against a labels file (and split file) by their node ids."""
    Z, ids = gio.read_embeddings(embeddings)
    if ids is None:
        ids = np.arange(len(Z))
    labs = gio.read_labels(labels, ids, len(Z))
    if split is None and not random_splits:
        beside = Path(labels).with_name("split.json")
        split = beside if beside.exists() else None
    split_rows = None if (split is None or random_splits) else _read_split(split, ids, labs)
    result = linear_probe(Z[labs.rows], labs.y, split_rows, seeds=seeds, train_ratio=train_ratio)
    result["embeddings"], result["labels"] = str(embeddings), str(labels)
    return result
