"""A free embedding table: one row per node (graphs without features, layouts); transductive."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from .base import Encoder, register


@register("table")
class Table(Encoder):
    """A free embedding per node (graphs without features): transductive. ``init`` (n, dim)
    sets the start (e.g. :func:`~genurl_graph.encoders.spectral.spectral_init`); else rows are
    drawn N(0, init_scale^2)."""

    inductive = False

    def __init__(
        self, num_nodes: int, dim: int, init_scale: float = 1.0, init: np.ndarray | None = None
    ):
        super().__init__()
        self.num_nodes, self.dim, self.init_scale = num_nodes, dim, init_scale
        self.weight = nn.Parameter(torch.empty(num_nodes, dim))
        self._init = None if init is None else torch.as_tensor(init, dtype=torch.float32)
        self.reset_parameters()

    @property
    def has_start(self) -> bool:
        """Whether the table starts from given rows (a closed-form start), not random ones."""
        return self._init is not None

    def reset_parameters(self):
        if self._init is not None:
            with torch.no_grad():
                self.weight.copy_(self._init)
        else:
            nn.init.normal_(self.weight, std=self.init_scale)

    def prepare(self, graph):
        if graph.num_nodes != self.num_nodes:
            raise InputError("a free embedding table cannot embed new nodes: use a feature encoder")
        return None

    def forward(self, inputs=None) -> torch.Tensor:
        return self.weight
