"""The encoders: a free embedding table, an MLP on features, SGC-style propagation + MLP, a GCN."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..graphs import Graph


def _dense_features(graph: Graph) -> np.ndarray:
    X = graph.features
    if X is None:
        raise ValueError("this encoder needs node features")
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def normalized_adjacency(adj: sp.spmatrix) -> sp.csr_matrix:
    """A^ = D^-1/2 (A + I) D^-1/2 of the symmetrised, unweighted graph (GCN's propagation)."""
    A = sp.csr_matrix(adj)
    A = ((A + A.T) > 0).astype(np.float32) + sp.eye(A.shape[0], dtype=np.float32, format="csr")
    d = np.asarray(A.sum(1)).ravel()
    inv = sp.diags(1 / np.sqrt(d))
    return (inv @ A @ inv).tocsr()


def propagate(adj: sp.spmatrix, X, hops: int) -> list[np.ndarray]:
    """[X, A^X, A^^2 X, ..., A^^hops X]: features smoothed over the graph (SGC), X row-normalised."""
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float32)
    X = X / np.maximum(np.abs(X).sum(1, keepdims=True), 1e-12)
    A = normalized_adjacency(adj)
    out = [X.astype(np.float32)]
    for _ in range(hops):
        out.append((A @ out[-1]).astype(np.float32))
    return out


def _mlp(dims: list[int]) -> nn.Sequential:
    layers = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.PReLU())
    return nn.Sequential(*layers)


class Table(nn.Module):
    """A free embedding per node (graphs without features): transductive."""

    inductive = False

    def __init__(self, num_nodes: int, dim: int, init_scale: float = 1.0):
        super().__init__()
        self.num_nodes, self.dim, self.init_scale = num_nodes, dim, init_scale
        self.weight = nn.Parameter(torch.empty(num_nodes, dim))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.normal_(self.weight, std=self.init_scale)

    def prepare(self, graph: Graph):
        if graph.num_nodes != self.num_nodes:
            raise ValueError("a free embedding table cannot embed new nodes: use a feature encoder")
        return None

    def forward(self, inputs=None) -> torch.Tensor:
        return self.weight


class MLP(nn.Module):
    """An MLP on node features alone: inductive, no graph needed at inference."""

    inductive = True

    def __init__(self, in_dim: int, dim: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.net = _mlp([in_dim] + [hidden] * (layers - 1) + [dim])

    def prepare(self, graph: Graph) -> torch.Tensor:
        X = _dense_features(graph)
        return torch.from_numpy((X / np.maximum(np.abs(X).sum(1, keepdims=True), 1e-12)).astype(np.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SGC(nn.Module):
    """Propagate features ``hops`` times over the graph (A^^k X, computed once), then an MLP.

    A linear GCN whose propagation is precomputed, so training costs an MLP's; inductive.
    """

    inductive = True

    def __init__(self, in_dim: int, dim: int, hops: int = 3, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.hops = hops
        self.net = _mlp([in_dim] + [hidden] * (layers - 1) + [dim])

    def prepare(self, graph: Graph) -> torch.Tensor:
        H = propagate(graph.symmetric(), _dense_features(graph), self.hops)[-1]
        H = H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-12)
        return torch.from_numpy(H)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class GCN(nn.Module):
    """A GCN (dgl.nn.GraphConv layers) over the graph and its features; needs DGL."""

    inductive = True

    def __init__(self, in_dim: int, dim: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        from .._deps import require_dgl

        require_dgl()
        from dgl.nn import GraphConv

        dims = [in_dim] + [hidden] * (layers - 1) + [dim]
        self.convs = nn.ModuleList(GraphConv(dims[i], dims[i + 1], allow_zero_in_degree=True)
                                   for i in range(layers))
        self.acts = nn.ModuleList(nn.PReLU() for _ in range(layers - 1))

    def prepare(self, graph: Graph):
        import dgl

        X = _dense_features(graph)
        X = X / np.maximum(np.abs(X).sum(1, keepdims=True), 1e-12)
        g = dgl.add_self_loop(dgl.to_bidirected(dgl.remove_self_loop(graph.to_dgl())))
        return g, torch.from_numpy(X.astype(np.float32))

    def forward(self, inputs) -> torch.Tensor:
        g, h = inputs
        for i, conv in enumerate(self.convs):
            h = conv(g, h)
            if i < len(self.acts):
                h = self.acts[i](h)
        return h


def build_encoder(name: str, graph: Graph, dim: int, **kw) -> nn.Module:
    """An encoder by name: ``table``, ``mlp``, ``sgc`` or ``gcn``."""
    if name == "table":
        return Table(graph.num_nodes, dim)
    if graph.features is None:
        raise ValueError(f"the {name!r} encoder needs node features; use 'table' for a graph without them")
    in_dim = graph.features.shape[1]
    classes = {"mlp": MLP, "sgc": SGC, "gcn": GCN}
    if name not in classes:
        raise ValueError(f"unknown encoder {name!r}: choose from table, {', '.join(classes)}")
    return classes[name](in_dim, dim, **kw)
