"""The encoders: a free embedding table, an MLP on features, SGC-style propagation + MLP, a GCN."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..errors import InputError
from ..graphs import Graph


def _dense_features(graph: Graph) -> np.ndarray:
    X = graph.features
    if X is None:
        raise InputError("this encoder needs node features")
    return X.toarray() if sp.issparse(X) else np.asarray(X)


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


def _mlp(dims: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers = [nn.Dropout(dropout)] if dropout else []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.PReLU())
    return nn.Sequential(*layers)


def spectral_init(M: sp.spmatrix, dim: int, seed: int = 0, radius: float = 2.0) -> np.ndarray:
    """A start for a free table from a similarity matrix: U sqrt(S) of its rank-``dim``
    randomized SVD, rows scaled to norm ``radius`` (as UMAP starts from a spectral layout).
    Computed in float32 (the SVD keeps ``M``'s dtype): half the memory of a float64 copy of M
    and of the (n x (dim + 10)) range sketches, which is what bounds it on large graphs."""
    from sklearn.utils.extmath import randomized_svd

    dim_svd = min(dim, min(M.shape) - 1)
    M = M if sp.isspmatrix_csr(M) and M.dtype == np.float32 else sp.csr_matrix(M, dtype=np.float32)
    U, S, _ = randomized_svd(M, dim_svd, n_iter=5, random_state=seed)
    del _
    Z = U * np.sqrt(S)
    del U
    if dim_svd < dim:
        Z = np.hstack([Z, np.zeros((Z.shape[0], dim - dim_svd), dtype=Z.dtype)])
    # A row the SVD leaves at 0 (M empty there: e.g. no context above the PMI shift on a tiny
    # graph) starts in a random direction: a table of equal rows gets no gradient and stays so.
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    empty = norms[:, 0] <= 1e-12
    if empty.any():
        Z[empty] = np.random.default_rng(seed).normal(size=(int(empty.sum()), dim)).astype(Z.dtype)
        norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return (radius * Z / np.maximum(norms, 1e-12)).astype(np.float32)


def spectral_layout(P: sp.spmatrix, dim: int, seed: int = 0, scale: float = 10.0) -> np.ndarray:
    """A start for a layout from a similarity graph (as UMAP's): the eigenvectors 2..dim+1 of
    D^-1/2 P D^-1/2 (the smoothest non-constant ones), scaled so the largest |coordinate| is
    ``scale``, plus a little noise to break ties. Falls back to a random start when the
    eigensolver does not converge (e.g. a graph in many pieces)."""
    from scipy.sparse.linalg import eigsh

    rng = np.random.default_rng(seed)
    n = P.shape[0]
    P = sp.csr_matrix(P, dtype=np.float64)
    deg = np.asarray(P.sum(1)).ravel()
    inv = sp.diags(1 / np.sqrt(np.maximum(deg, 1e-12)))
    M = inv @ P @ inv
    try:
        if n <= dim + 2:
            raise ValueError("too few points")
        v0 = rng.random(n)
        vals, vecs = eigsh(M, k=dim + 1, which="LA", v0=v0, tol=1e-4, maxiter=n * 5)
        Z = vecs[:, np.argsort(-vals)[1:dim + 1]]
    except Exception:  # ArpackNoConvergence, tiny graphs: a random start is what UMAP falls back to too
        Z = rng.uniform(-1, 1, size=(n, dim))
    Z = Z / max(np.abs(Z).max(), 1e-12) * scale
    return (Z + rng.normal(scale=1e-4 * scale, size=Z.shape)).astype(np.float32)


class Table(nn.Module):
    """A free embedding per node (graphs without features): transductive. ``init`` (n, dim)
    sets the start (e.g. :func:`spectral_init`); else rows are drawn N(0, init_scale^2)."""

    inductive = False

    def __init__(self, num_nodes: int, dim: int, init_scale: float = 1.0, init: np.ndarray | None = None):
        super().__init__()
        self.num_nodes, self.dim, self.init_scale = num_nodes, dim, init_scale
        self.weight = nn.Parameter(torch.empty(num_nodes, dim))
        self._init = None if init is None else torch.as_tensor(init, dtype=torch.float32)
        self.reset_parameters()

    def reset_parameters(self):
        if self._init is not None:
            with torch.no_grad():
                self.weight.copy_(self._init)
        else:
            nn.init.normal_(self.weight, std=self.init_scale)

    def prepare(self, graph: Graph):
        if graph.num_nodes != self.num_nodes:
            raise InputError("a free embedding table cannot embed new nodes: use a feature encoder")
        return None

    def forward(self, inputs=None) -> torch.Tensor:
        return self.weight


class MLP(nn.Module):
    """An MLP on features alone: inductive, no graph needed at inference.

    ``norm`` says how inputs are scaled before the first layer: ``"l1"`` (each row to unit L1
    norm; bag-of-words node features), ``"standard"`` (per-column mean and scale fitted by
    :meth:`fit_norm` and saved with the weights) or ``"none"``. ``prepare`` takes a
    :class:`Graph` (its node features) or an (n, f) array.
    """

    inductive = True

    def __init__(self, in_dim: int, dim: int, hidden: int = 512, layers: int = 2, norm: str = "l1",
                 dropout: float = 0.0):
        super().__init__()
        if norm not in ("l1", "standard", "none"):
            raise InputError(f"unknown norm {norm!r}: l1, standard or none")
        self.in_dim, self.dim, self.hidden, self.layers, self.norm = in_dim, dim, hidden, layers, norm
        self.register_buffer("shift", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))
        self.net = _mlp([in_dim] + [hidden] * (layers - 1) + [dim], dropout)

    def fit_norm(self, X) -> "MLP":
        """Fit the ``standard`` scaling on training inputs X (n, f): mean, and one scale for all
        columns (the overall std), so columns keep their relative weight; no-op otherwise."""
        if self.norm == "standard":
            X = X.toarray() if sp.issparse(X) else np.asarray(X, dtype=np.float64)
            mean = X.mean(0)
            std = float((X - mean).std()) or 1.0
            with torch.no_grad():
                self.shift.copy_(torch.as_tensor(mean, dtype=torch.float32))
                self.scale.fill_(std)
        return self

    def prepare(self, data) -> torch.Tensor:
        X = _dense_features(data) if isinstance(data, Graph) else \
            (data.toarray() if sp.issparse(data) else np.asarray(data))
        X = X.astype(np.float32, copy=False)
        if X.ndim != 2 or X.shape[1] != self.in_dim:
            raise InputError(f"this MLP takes (n, {self.in_dim}) inputs, got shape {X.shape}")
        if self.norm == "l1":
            X = X / np.maximum(np.abs(X).sum(1, keepdims=True), 1e-12)
        x = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        if self.norm == "standard":
            x = (x - self.shift.cpu()) / self.scale.cpu()
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Propagated(nn.Module):
    """Features propagated over the graph once (PPR or SGC, see :func:`propagate`), then an MLP
    (``layers=1``: linear) with input dropout. A decoupled GCN: training costs an MLP's and new
    nodes are embedded by propagating over their graph; inductive.
    """

    inductive = True

    def __init__(self, in_dim: int, dim: int, hops: int = 16, alpha: float = 0.1, hidden: int = 512,
                 layers: int = 1, dropout: float = 0.5):
        super().__init__()
        self.hops, self.alpha = hops, alpha
        self.net = _mlp([in_dim] + [hidden] * (layers - 1) + [dim], dropout)

    def prepare(self, graph: Graph) -> torch.Tensor:
        H = propagate(graph.symmetric(), _dense_features(graph), self.hops, self.alpha)
        H = H / np.maximum(np.linalg.norm(H, axis=1, keepdims=True), 1e-12)
        return torch.from_numpy(H.astype(np.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


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
        nn.init.xavier_uniform_(self.weight)

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
    return torch.sparse_coo_tensor(index, torch.from_numpy(A.data.astype(np.float32)), A.shape,
                                   check_invariants=True).coalesce()


class GCN(nn.Module):
    """A GCN (:class:`GraphConv` layers, PReLU between) over the graph and its features."""

    inductive = True

    def __init__(self, in_dim: int, dim: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [dim]
        self.convs = nn.ModuleList(GraphConv(dims[i], dims[i + 1]) for i in range(layers))
        self.acts = nn.ModuleList(nn.PReLU() for _ in range(layers - 1))

    def prepare(self, graph: Graph):
        X = _dense_features(graph)
        X = X / np.maximum(np.abs(X).sum(1, keepdims=True), 1e-12)
        return gcn_adjacency(graph.adj), torch.from_numpy(X.astype(np.float32))

    def forward(self, inputs) -> torch.Tensor:
        adj, h = inputs
        for i, conv in enumerate(self.convs):
            h = conv(adj, h)
            if i < len(self.acts):
                h = self.acts[i](h)
        return h


def build_encoder(name: str, graph: Graph, dim: int, **kw) -> nn.Module:
    """An encoder by name: ``table``, ``ppr`` / ``sgc`` (propagated features), ``mlp`` or ``gcn``."""
    if name == "table":
        return Table(graph.num_nodes, dim, **kw)
    if graph.features is None:
        raise InputError(f"the {name!r} encoder needs node features; use 'table' for a graph without them")
    in_dim = graph.features.shape[1]
    if name == "ppr":
        return Propagated(in_dim, dim, **kw)
    if name == "sgc":
        return Propagated(in_dim, dim, **{"alpha": 0.0, "hops": 3, **kw})
    classes = {"mlp": MLP, "gcn": GCN}
    if name not in classes:
        raise InputError(f"unknown encoder {name!r}: choose from table, ppr, sgc, {', '.join(classes)}")
    return classes[name](in_dim, dim, **kw)
