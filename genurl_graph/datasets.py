"""Bundled data sets, read from the project's plain files under ``datasets/`` (never unpickled).

``load("cora")`` returns a :class:`Dataset`: the graph (with features), labels and public split.
Data that is not bundled is never downloaded: a loader says where to put a local copy.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .errors import InputError
from .graphs import Graph
from .graphs.graph import _from_edges

BUNDLED = ("cora", "citeseer")


def data_root() -> Path:
    """``$GENURL_DATA`` if set, else the repository's ``datasets/`` folder."""
    env = os.environ.get("GENURL_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "datasets"


@dataclass
class Dataset:
    """A graph with features, class labels (-1 = none) and a split (train/val/test node ids)."""

    name: str
    graph: Graph
    labels: np.ndarray
    split: dict

    @property
    def features(self):
        return self.graph.features


def load(name: str, root: str | os.PathLike | None = None) -> Dataset:
    """Load a bundled data set (``cora``, ``citeseer``) from ``datasets/<name>/``."""
    name = name.lower()
    folder = Path(root) if root else data_root() / name
    if name not in BUNDLED and root is None:
        raise InputError(f"unknown data set {name!r}: bundled are {', '.join(BUNDLED)}; "
                         "read other graphs with genurl_graph.read_graph(edge_list)")
    if not (folder / "edges.txt").exists():
        raise InputError(f"{folder}/edges.txt is missing: run "
                                f"`python datasets/convert_planetoid.py ../shared/data` to create it")
    edges = np.loadtxt(folder / "edges.txt", dtype=np.int64, comments="#", ndmin=2)
    labels = np.loadtxt(folder / "labels.txt", dtype=np.int64, comments="#")
    features = sp.load_npz(folder / "features.npz").tocsr()
    split = {k: np.asarray(v, dtype=np.int64) for k, v in json.loads((folder / "split.json").read_text()).items()}
    graph = _from_edges(edges[:, 0], edges[:, 1], None, len(labels), False, features=features,
                        source=str(folder / "edges.txt"))
    return Dataset(name, graph, labels, split)
