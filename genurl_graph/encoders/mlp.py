"""An MLP over features alone: inductive, no graph needed at inference (DR, KD students)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import InputError
from ..graphs import Graph
from .base import Encoder, dense_features, mlp_layers, register, reset_all


@register("mlp")
class MLP(Encoder):
    """An MLP on features alone: inductive, no graph needed at inference.

    ``norm`` says how inputs are scaled before the first layer: ``"l1"`` (each row to unit L1
    norm; bag-of-words node features), ``"standard"`` (per-column mean and scale fitted by
    :meth:`fit_norm` and saved with the weights) or ``"none"``. ``prepare`` takes a
    :class:`Graph` (its node features) or an (n, f) array.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        hidden: int = 512,
        layers: int = 2,
        norm: str = "l1",
        dropout: float = 0.0,
    ):
        super().__init__()
        if norm not in ("l1", "standard", "none"):
            raise InputError(f"unknown norm {norm!r}: l1, standard or none")
        self.in_dim, self.dim, self.hidden, self.layers, self.norm = (
            in_dim,
            dim,
            hidden,
            layers,
            norm,
        )
        self.register_buffer("shift", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))
        self.dropout = dropout
        self.net = mlp_layers([in_dim] + [hidden] * (layers - 1) + [dim], dropout)

    def reset_parameters(self):
        """New weights; the fitted input scaling (a buffer) is kept."""
        reset_all(self.net)

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
        X = (
            dense_features(data)
            if isinstance(data, Graph)
            else (data.toarray() if sp.issparse(data) else np.asarray(data))
        )
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
