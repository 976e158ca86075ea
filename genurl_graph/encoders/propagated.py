"""Features propagated over the graph once (SGC / personalised PageRank), then an MLP: a
decoupled GCN whose training costs an MLP's."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..graphs import Graph
from .base import Encoder, dense_features, mlp_layers, register, reset_all


def normalized_adjacency(adj: sp.spmatrix) -> sp.csr_matrix:
    """A^ = D^-1/2 (A + I) D^-1/2 of the symmetrised, unweighted graph (GCN's propagation)."""
    A = sp.csr_matrix(adj)
    A = ((A + A.T) > 0).astype(np.float32) + sp.eye(A.shape[0], dtype=np.float32, format="csr")
    d = np.asarray(A.sum(1)).ravel()
    inv = sp.diags(1 / np.sqrt(d))
    return (inv @ A @ inv).tocsr()


def propagate(adj: sp.spmatrix, X, hops: int, alpha: float = 0.0) -> np.ndarray:
    """Features smoothed over the graph, X row-normalised first.

    ``alpha = 0``: SGC, A^^hops X. ``alpha > 0``: personalised PageRank (APPNP),
    ``hops`` steps of H <- (1 - alpha) A^ H + alpha X, which keeps each node's own features.
    """
    X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float32)
    X = (X / np.maximum(np.abs(X).sum(1, keepdims=True), 1e-12)).astype(np.float32)
    A = normalized_adjacency(adj)
    H = X
    for _ in range(hops):
        H = (A @ H).astype(np.float32)
        if alpha:
            H = (1 - alpha) * H + alpha * X
    return H


@register("ppr")
class Propagated(Encoder):
    """Features propagated over the graph once (PPR or SGC, see :func:`propagate`), then an MLP
    (``layers=1``: linear) with input dropout. A decoupled GCN: training costs an MLP's and new
    nodes are embedded by propagating over their graph; inductive.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        hops: int = 16,
        alpha: float = 0.1,
        hidden: int = 512,
        layers: int = 1,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.in_dim, self.dim, self.hops, self.alpha = in_dim, dim, hops, alpha
        self.hidden, self.layers, self.dropout = hidden, layers, dropout
        self.net = mlp_layers([in_dim] + [hidden] * (layers - 1) + [dim], dropout)

    def reset_parameters(self):
        reset_all(self.net)

    def prepare(self, graph: Graph) -> torch.Tensor:
        H = propagate(graph.symmetric(), dense_features(graph), self.hops, self.alpha)
        H = H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-12)
        return torch.from_numpy(H.astype(np.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
