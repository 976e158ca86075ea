"""The project's graph: a weighted CSR adjacency without self-loops, node ids, optional features."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from .. import io as gio


@dataclass
class Graph:
    """A graph on ``n`` nodes: ``adj`` (CSR, n x n, weights; symmetric unless ``directed``).

    ``ids`` names each row (for output files); ``features`` is an (n, f) array or CSR matrix.
    """

    adj: sp.csr_matrix
    ids: np.ndarray = None
    features: np.ndarray | sp.csr_matrix | None = None
    directed: bool = False
    source: str | None = field(default=None, repr=False)

    def __post_init__(self):
        n = self.adj.shape[0]
        if self.ids is None:
            self.ids = np.arange(n)
        if self.features is not None and self.features.shape[0] != n:
            raise InputError(
                f"features have {self.features.shape[0]} rows but the graph has {n} nodes",
                self.source,
            )

    @property
    def num_nodes(self) -> int:
        return self.adj.shape[0]

    @property
    def num_edges(self) -> int:
        """Stored (directed) edges: an undirected edge counts twice."""
        return self.adj.nnz

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coo = self.adj.tocoo()
        return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float32)

    def symmetric(self) -> sp.csr_matrix:
        """Adjacency with each edge in both directions (the max weight where both exist)."""
        return self.adj if not self.directed else self.adj.maximum(self.adj.T).tocsr()

    def to_dgl(self):
        from .._deps import require_dgl

        dgl = require_dgl()
        import torch

        src, dst, w = self.edges()
        g = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=self.num_nodes)
        g.edata["w"] = torch.from_numpy(w)
        return g


def _from_edges(src, dst, w, n, directed, ids=None, features=None, source=None) -> Graph:
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    w = np.ones(len(src)) if w is None else np.asarray(w, dtype=np.float64)
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise InputError(f"edge endpoints must lie in 0..{n - 1}", source)
    loop = src == dst
    src, dst, w = src[~loop], dst[~loop], w[~loop]
    if len(src) == 0:
        raise InputError(
            "the graph has no edges after removing self-loops (and weight-0 lines)", source
        )
    if not directed:
        src, dst, w = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([w, w])
    # Repeated edges keep their largest weight (summing would make listing order matter).
    coo = sp.coo_matrix((w, (src, dst)), shape=(n, n))
    order = np.lexsort((-coo.data, coo.col, coo.row))
    r, c, d = coo.row[order], coo.col[order], coo.data[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    adj = sp.csr_matrix((d[first].astype(np.float32), (r[first], c[first])), shape=(n, n))
    return Graph(adj, ids, features, directed, source)


def read_graph(path, nodes=None, directed: bool = False, features=None) -> Graph:
    """A :class:`Graph` from an edge-list file, optional node list (a file, or an array of ids
    that fixes the rows) and features file."""
    node_ids = (
        None
        if nodes is None
        else (nodes if isinstance(nodes, np.ndarray) else gio.read_nodes(nodes))
    )
    edges = gio.read_edgelist(path, node_ids)
    ids = edges.ids
    feats = None
    if features is not None:
        from pathlib import Path

        if node_ids is None and Path(features).suffix.lower() in (".npy", ".npz"):
            if ids.dtype.kind != "i":
                raise InputError(
                    "features in .npy/.npz need --nodes to say which row is which node "
                    "(or use a .csv with node ids in its first column)",
                    features,
                )
            feats = gio.read_features(features)
            if ids.min() < 0 or ids.max() >= feats.shape[0]:
                raise InputError(
                    f"node id {ids.max() if ids.max() >= feats.shape[0] else ids.min()} has no "
                    f"feature row: rows are integer ids 0..{feats.shape[0] - 1}",
                    features,
                )
            # Rows are integer ids: every feature row is a node, isolated or not.
            full = np.arange(feats.shape[0])
            edges.src, edges.dst = ids[edges.src], ids[edges.dst]
            ids = full
        else:
            feats = gio.read_features(features, ids)
    return _from_edges(
        edges.src, edges.dst, edges.weight, len(ids), directed, ids, feats, str(path)
    )


def as_graph(obj, features=None, directed: bool | None = None) -> Graph:
    """Accept a :class:`Graph`, DGLGraph, networkx graph, scipy sparse adjacency or (E, 2|3)
    array."""
    if isinstance(obj, Graph):
        if features is not None:
            return Graph(obj.adj, obj.ids, features, obj.directed, obj.source)
        return obj
    if sp.issparse(obj):
        if obj.shape[0] != obj.shape[1]:
            raise InputError(f"an adjacency matrix must be square, got shape {obj.shape}")
        coo = sp.coo_matrix(obj)
        sym = directed is None and (abs(coo - coo.T) > 0).nnz == 0
        return _from_edges(
            coo.row,
            coo.col,
            coo.data,
            coo.shape[0],
            not (sym or directed is False),
            features=features,
        )
    mod = type(obj).__module__
    if mod.startswith("networkx"):
        import networkx as nx

        nodes = list(obj.nodes())
        adj = nx.to_scipy_sparse_array(obj, nodelist=nodes, weight="weight", format="coo")
        is_directed = obj.is_directed() if directed is None else directed
        return _from_edges(
            adj.row,
            adj.col,
            adj.data,
            len(nodes),
            is_directed,
            ids=np.array(
                nodes,
                dtype=object
                if not all(isinstance(v, (int, np.integer)) for v in nodes)
                else np.int64,
            ),
            features=features,
        )
    if mod.startswith("dgl"):
        src, dst = (t.numpy() for t in obj.edges())
        w = obj.edata["w"].numpy() if "w" in obj.edata else None
        if features is None and "feat" in obj.ndata:
            features = obj.ndata["feat"].numpy()
        return _from_edges(src, dst, w, obj.num_nodes(), bool(directed), features=features)
    arr = np.asarray(obj)
    if arr.ndim == 2 and arr.shape[1] in (2, 3) and arr.shape[0] > 0:
        n = int(arr[:, :2].max()) + 1
        if features is not None:
            n = max(n, features.shape[0])
        w = arr[:, 2] if arr.shape[1] == 3 else None
        return _from_edges(
            arr[:, 0].astype(np.int64),
            arr[:, 1].astype(np.int64),
            w,
            n,
            bool(directed),
            features=features,
        )
    raise InputError(
        f"cannot read a graph from {type(obj).__name__}: give a DGLGraph, a networkx graph, "
        "a scipy sparse adjacency or an (E, 2) edge array"
    )
