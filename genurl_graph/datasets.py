"""Data sets: the bundled Cora and CiteSeer (plain files under ``datasets/``, never unpickled) and
the Open Graph Benchmark's homogeneous node and link sets read by the ``ogb`` package's own DGL
loaders, with OGB's official split.

``load("cora")`` or ``load("ogbn-arxiv", root="data/ogb")`` returns a :class:`Dataset`. Nothing is
ever downloaded: an OGB set that is not under ``root`` is refused, before ``ogb`` is called, with
the
list of files to put where (the paths OGB expects).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from .errors import InputError

if TYPE_CHECKING:  # torch, DGL: imported where a graph is built, not to check a name
    from .graphs import Graph

BUNDLED = ("cora", "citeseer")
# OGB sets whose layout this loader knows: homogeneous graphs (no ogbn-mag, ogbl-biokg, ogbl-
# wikikg2).
OGB_NODE = ("ogbn-arxiv", "ogbn-products", "ogbn-proteins", "ogbn-papers100M")
OGB_LINK = ("ogbl-collab", "ogbl-ddi", "ogbl-ppa", "ogbl-citation2", "ogbl-vessel")


def data_root() -> Path:
    """``$GENURL_DATA`` if set, else the repository's ``datasets/`` folder."""
    env = os.environ.get("GENURL_DATA")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "datasets"


@dataclass
class Dataset:
    """A graph with features, labels and a split.

    ``task="nodes"``: ``labels`` holds class ids (-1 = none; (n, tasks) 0/1 for multi-task sets)
    and ``split`` train/val/test node ids. ``task="links"`` (OGB link sets): ``graph`` holds the
    training edges, ``labels`` is None and ``split`` holds OGB's train/val/test edge dicts (arrays
    keyed ``edge``, ``edge_neg``, ``source_node``, ...). ``metric`` names OGB's measure for the set
    (``acc``, ``rocauc``, ``hits@50``, ``mrr``), None for the bundled sets.
    """

    name: str
    graph: Graph
    labels: np.ndarray | None
    split: dict
    task: str = "nodes"
    metric: str | None = None

    @property
    def features(self):
        return self.graph.features


def load(name: str, root: str | os.PathLike | None = None) -> Dataset:
    """Load a bundled data set (``cora``, ``citeseer``) from ``datasets/<name>/``, or an OGB set
    (``ogbn-arxiv``, ``ogbl-collab``, ... see :data:`OGB_NODE`, :data:`OGB_LINK`) from ``root``
    (default ``$GENURL_DATA`` or ``datasets/``) through ``ogb``'s DGL loaders."""
    if name.lower().startswith(("ogbn-", "ogbl-")):
        return load_ogb(name, data_root() if root is None else root)
    name = name.lower()
    folder = Path(root) if root else data_root() / name
    if name not in BUNDLED and root is None:
        raise InputError(
            f"unknown data set {name!r}: bundled are {', '.join(BUNDLED)}; OGB sets "
            f"(with root=): {', '.join(OGB_NODE + OGB_LINK)}; read other graphs with "
            "genurl_graph.read_graph(edge_list)"
        )
    if not (folder / "edges.txt").exists():
        raise InputError(
            "missing: run `python datasets/convert_planetoid.py ../shared/data` to create it",
            folder / "edges.txt",
        )
    from .graphs.graph import _from_edges

    edges = np.loadtxt(folder / "edges.txt", dtype=np.int64, comments="#", ndmin=2)
    labels = np.loadtxt(folder / "labels.txt", dtype=np.int64, comments="#")
    features = sp.load_npz(folder / "features.npz").tocsr()
    split = {
        k: np.asarray(v, dtype=np.int64)
        for k, v in json.loads((folder / "split.json").read_text()).items()
    }
    graph = _from_edges(
        edges[:, 0],
        edges[:, 1],
        None,
        len(labels),
        False,
        features=features,
        source=str(folder / "edges.txt"),
    )
    return Dataset(name, graph, labels, split)


# --- OGB -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_ogb_import():
    """Import ``ogb`` without its version check: ``ogb/version.py`` asks PyPI in a background
    thread whether a newer ``ogb`` exists when the ``outdated`` package imports. Nothing here
    goes online, so that import is made to fail for the moment ``ogb`` is first imported."""
    if "ogb" in sys.modules:
        yield
        return
    saved = sys.modules.get("outdated", None)
    had = "outdated" in sys.modules
    sys.modules["outdated"] = None  # `from outdated import ...` raises ImportError
    try:
        yield
    finally:
        if had:
            sys.modules["outdated"] = saved
        else:
            sys.modules.pop("outdated", None)


def import_ogb(module: str):
    """``importlib.import_module(module)`` for an ``ogb`` module, without ogb's online version
    check."""
    import importlib

    with _quiet_ogb_import():
        return importlib.import_module(module)


def ogb_meta(name: str) -> dict:
    """OGB's own description of a data set (its ``master.csv`` column): folder, version, split,
    metric, extra files. Refuses names this loader does not handle."""
    if name not in OGB_NODE + OGB_LINK:
        raise InputError(
            f"unknown or unsupported OGB data set {name!r}: supported node sets "
            f"{', '.join(OGB_NODE)}; link sets {', '.join(OGB_LINK)} (heterogeneous and "
            "knowledge-graph sets are not)"
        )
    import pandas as pd

    kind = "nodeproppred" if name.startswith("ogbn-") else "linkproppred"
    pkg = import_ogb(f"ogb.{kind}")
    master = pd.read_csv(
        Path(pkg.__file__).parent / "master.csv", index_col=0, keep_default_na=False
    )
    meta = dict(master[name])
    meta["kind"] = kind
    return meta


def _ogb_folder(name: str, root: Path) -> Path:
    """The folder OGB's DGL loader reads: ``root/ogbn_arxiv``, or ``root/ogbn_arxiv_dgl`` if that
    exists."""
    base = "_".join(name.split("-"))
    return root / (base + "_dgl") if (root / (base + "_dgl")).exists() else root / base


def _extra(meta: dict, key: str) -> list[str]:
    return [] if meta[key] == "None" else meta[key].split(",")


def ogb_required_files(name: str, root) -> list[Path]:
    """Every file OGB's DGL loader reads for ``name`` under ``root`` (before it makes its processed
    cache): the release marker, the raw graph files and the split files."""
    meta = ogb_meta(name)
    folder = _ogb_folder(name, Path(root))
    files = [folder / f"RELEASE_v{meta['version']}.txt"]
    raw = folder / "raw"
    if meta["binary"] == "True":
        files.append(raw / "data.npz")
        if meta["kind"] == "nodeproppred":
            files.append(raw / "node-label.npz")
    else:
        files += [raw / "edge.csv.gz", raw / "num-node-list.csv.gz", raw / "num-edge-list.csv.gz"]
        if meta["has_node_attr"] == "True":
            files.append(raw / "node-feat.csv.gz")
        if meta["has_edge_attr"] == "True":
            files.append(raw / "edge-feat.csv.gz")
        files += [
            raw / f"{f}.csv.gz"
            for f in _extra(meta, "additional node files") + _extra(meta, "additional edge files")
        ]
        if meta["kind"] == "nodeproppred":
            files.append(raw / "node-label.csv.gz")
    split = folder / "split" / meta["split"]
    ext = "csv.gz" if meta["kind"] == "nodeproppred" else "pt"
    files += [split / f"{part}.{ext}" for part in ("train", "valid", "test")]
    return files


def check_ogb(name: str, root) -> Path:
    """Refuse, with the files to put where, an OGB set that is not complete under ``root``; this
    runs before ``ogb`` is called, so its loader never reaches its download (or its y/N prompts)."""
    meta = ogb_meta(name)
    root = Path(root)
    folder = _ogb_folder(name, root)
    cache = folder / "processed" / "dgl_data_processed"
    missing = []
    for path in ogb_required_files(name, root):
        # OGB reads its cache, not raw/, then
        in_cache = path.parent.name == "raw" and cache.exists()
        if not in_cache and not path.exists():
            missing.append(path)
    if not missing:
        return folder
    kind = meta["kind"]
    fetch = (
        f'python -c "from ogb.{kind} import '
        f"{'Node' if kind == 'nodeproppred' else 'Link'}PropPredDataset as D; "
        f"D('{name}', root='ogb')\""
    )
    raise InputError(
        f"{name} is not complete under {root}: missing in {folder}/: "
        f"{', '.join(str(p.relative_to(folder)) for p in missing)}. Nothing is "
        f"downloaded here. Put OGB's files there: unzip {meta['url']} into {root} and rename the "
        f"folder "
        f"{meta['download_name']}/ to {folder.name}/ (it holds RELEASE_v{meta['version']}.txt, "
        f"raw/ and "
        f"split/{meta['split']}/); or, on a machine that is online, OGB's loader fetches it by "
        f"itself: "
        f"{fetch}; then copy ogb/{folder.name} to {folder}",
        folder,
    )


@contextlib.contextmanager
def _no_download(*modules):
    """While ``ogb`` runs: its download helper, if ever reached, raises instead of going online."""

    def refuse(url, *args, **kwargs):
        raise InputError(f"would download {url}: refused (files are checked first; this is a bug)")

    saved = [(m, m.decide_download) for m in modules]
    for m in modules:
        m.decide_download = refuse
    try:
        yield
    finally:
        for m, f in saved:
            m.decide_download = f


def load_ogb(name: str, root) -> Dataset:
    """An OGB node or link set from ``root`` by ``ogb``'s DGL loader (``DglNodePropPredDataset``,
    ``DglLinkPropPredDataset``), with its official split. The DGL loaders keep their processed
    cache in DGL's binary format; the plain ones pickle it, and torch >= 2.6 refuses to load that
    pickle again. OGB prints its progress on stderr here."""
    from ._deps import require_dgl

    folder = check_ogb(name, root)
    meta = ogb_meta(name)
    try:
        require_dgl(f"reading {name} (ogb's DGL loader)")
    except ImportError as exc:  # a clear error (exit 2 in the CLI), not a traceback
        raise InputError(str(exc)) from None
    import torch

    from .graphs.graph import _from_edges

    kind = meta["kind"]
    mod = import_ogb(f"ogb.{kind}.dataset_dgl")
    cls = mod.DglNodePropPredDataset if kind == "nodeproppred" else mod.DglLinkPropPredDataset
    with contextlib.redirect_stdout(sys.stderr), _no_download(mod), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch on OGB's read-only numpy arrays
        ds = cls(name=name, root=str(root))
        split = ds.get_idx_split() if kind == "nodeproppred" else ds.get_edge_split()
    g = ds[0][0] if kind == "nodeproppred" else ds[0]
    n = g.num_nodes()
    src, dst = (t.numpy() for t in g.edges())
    weight = g.edata["weight"].numpy().ravel() if "weight" in g.edata else None
    features = g.ndata["feat"].numpy().astype(np.float32) if "feat" in g.ndata else None
    graph = _from_edges(src, dst, weight, n, False, features=features, source=str(folder))
    metric = meta["eval metric"]

    def arr(v):
        return v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)

    if kind == "nodeproppred":
        y = arr(ds[0][1])
        if y.ndim == 2 and y.shape[1] == 1:
            y = (
                np.where(np.isnan(y[:, 0]), -1, np.nan_to_num(y[:, 0])).astype(np.int64)
                if y.dtype.kind == "f"
                else y[:, 0].astype(np.int64)
            )
        parts = {"train": "train", "val": "valid", "test": "test"}
        return Dataset(
            name,
            graph,
            y,
            {k: arr(split[v]).astype(np.int64) for k, v in parts.items()},
            "nodes",
            metric,
        )
    edges = {
        k: {key: arr(v) for key, v in split[ogb].items()}
        for k, ogb in (("train", "train"), ("val", "valid"), ("test", "test"))
    }
    return Dataset(name, graph, None, edges, "links", metric)


def write_ogb(
    root,
    name: str,
    edges: np.ndarray,
    num_nodes: int,
    features: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    split: dict | None = None,
    extra: dict | None = None,
) -> Path:
    """Write a graph in OGB's raw on-disk layout (what OGB's zip unpacks to) for ``name``, so that
    ``ogb``'s own loader reads it as it reads the real set: ``RELEASE_v*.txt``, ``raw/*.csv.gz``,
    ``split/<split>/``. For tests and benchmarks (synthetic stand-ins of a given size).

    ``edges`` (E, 2): for a link set, the training edges. ``split``: node sets
    ``{train, valid, test: node ids}``; link sets ``{train, valid, test: {edge: (m, 2),
    edge_neg: ..., ...}}``. ``extra`` gives OGB's additional files (``node_year``, ``edge_weight``,
    ...) by name; any it lacks is written as zeros (ones for weights). Returns the folder.
    """
    import pandas as pd
    import torch

    meta = ogb_meta(name)
    if meta["binary"] == "True":
        raise InputError(f"{name} is stored as .npz by OGB; write_ogb writes the csv layout only")
    folder = Path(root) / "_".join(name.split("-"))
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    extra = dict(extra or {})

    def csv(path, values):
        pd.DataFrame(np.asarray(values)).to_csv(path, header=False, index=False, compression="gzip")

    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    csv(raw / "edge.csv.gz", edges)
    csv(raw / "num-node-list.csv.gz", [num_nodes])
    csv(raw / "num-edge-list.csv.gz", [len(edges)])
    if meta["has_node_attr"] == "True":
        if features is None:
            raise InputError(f"{name} has node features in OGB: pass features")
        csv(raw / "node-feat.csv.gz", np.asarray(features, dtype=np.float32))
    for f in _extra(meta, "additional node files") + _extra(meta, "additional edge files"):
        rows = num_nodes if f.startswith("node_") else len(edges)
        default = np.ones((rows, 1)) if f == "edge_weight" else np.zeros((rows, 1), dtype=np.int64)
        csv(raw / f"{f}.csv.gz", extra.get(f, default))
    parts = folder / "split" / meta["split"]
    parts.mkdir(parents=True, exist_ok=True)
    if meta["kind"] == "nodeproppred":
        y = np.asarray(labels)
        csv(raw / "node-label.csv.gz", y.reshape(len(y), -1))
        for part in ("train", "valid", "test"):
            csv(parts / f"{part}.csv.gz", np.asarray(split[part], dtype=np.int64))
    else:
        for part in ("train", "valid", "test"):
            torch.save(
                {k: torch.as_tensor(np.asarray(v)) for k, v in split[part].items()},
                parts / f"{part}.pt",
            )
    (folder / f"RELEASE_v{meta['version']}.txt").write_text(
        f"synthetic stand-in for {name}, written by genurl_graph\n"
    )
    return folder
