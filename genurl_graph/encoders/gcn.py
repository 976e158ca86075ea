"""A GCN in plain torch (sparse products): runs without DGL and on CUDA."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..graphs import Graph
from .base import Encoder, dense_features, register, reset_all
from .propagated import normalized_adjacency


class GraphConv(nn.Module):
    """One GCN layer, H' = A^ H W + b with A^ = D^-1/2 (A + I) D^-1/2 given as a sparse tensor:
    the same function, parameters (``weight`` (in, out), ``bias``), initialisation and state-dict
    keys as ``dgl.nn.GraphConv`` (norm "both") on the graph with self-loops, in plain torch
    (a sparse matmul), so it runs without DGL and on CUDA."""

    def __init__(self, in_feats: int, out_feats: int):
        super().__init__()
        self._in_feats, self._out_feats = in_feats, out_feats
        self.weight = nn.Parameter(torch.empty(in_feats, out_feats))
        self.bias = nn.Parameter(torch.zeros(out_feats))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.xavier_uniform_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, adj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if self._in_feats > self._out_feats:  # multiply by W first: the sparse product is narrower
            return torch.sparse.mm(adj, h @ self.weight) + self.bias
        return torch.sparse.mm(adj, h) @ self.weight + self.bias


def gcn_adjacency(adj: sp.spmatrix) -> torch.Tensor:
    """GCN's A^ = D^-1/2 (A + I) D^-1/2 of the symmetrised, unweighted graph without its own
    loops, as a sparse torch tensor (what DGL's GraphConv computes after remove_self_loop,
    to_bidirected and add_self_loop)."""
    A = sp.csr_matrix(adj, copy=True)
    A.setdiag(0)
    A.eliminate_zeros()
    A = normalized_adjacency(A).tocoo()
    index = torch.from_numpy(np.vstack([A.row, A.col]).astype(np.int64))
    return torch.sparse_coo_tensor(
        index, torch.from_numpy(A.data.astype(np.float32)), A.shape, check_invariants=True
    ).coalesce()


@register("gcn")
class GCN(Encoder):
    """A GCN (:class:`GraphConv` layers, PReLU between) over the graph and its features."""

    def __init__(self, in_dim: int, dim: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.in_dim, self.dim, self.hidden, self.layers = in_dim, dim, hidden, layers
        dims = [in_dim] + [hidden] * (layers - 1) + [dim]
        self.convs = nn.ModuleList(GraphConv(dims[i], dims[i + 1]) for i in range(layers))
        self.acts = nn.ModuleList(nn.PReLU() for _ in range(layers - 1))

    def reset_parameters(self):
        reset_all(self)

    def prepare(self, graph: Graph):
        X = dense_features(graph)
        X = X / np.maximum(np.abs(X).sum(1, keepdims=True), 1e-12)
        return gcn_adjacency(graph.adj), torch.from_numpy(X.astype(np.float32))

    def forward(self, inputs) -> torch.Tensor:
        adj, h = inputs
        for i, conv in enumerate(self.convs):
            h = conv(adj, h)
            if i < len(self.acts):
                h = self.acts[i](h)
        return h
