"""LDT, low-dimensional transformation: encoders f_theta mapping nodes, points or images to
embeddings, one file each, all in one registry (:mod:`.base`).

Each encoder has ``prepare(data) -> inputs`` (done once, outside training) and
``forward(inputs) -> Z`` (n, dim). Inductive encoders embed new data by ``prepare`` on it; the
table is transductive. :mod:`.spectral` holds the closed-form starts of free tables and layouts.
"""

from __future__ import annotations

from ..errors import InputError
from .base import REGISTRY, encoder_config, from_config, register
from .cnn import CNN
from .gcn import GCN
from .mlp import MLP
from .propagated import Propagated, propagate
from .spectral import spectral_init, spectral_layout
from .table import Table

# Named settings of a registered class (saved as that class).
PRESETS = {"sgc": ("ppr", {"alpha": 0.0, "hops": 3})}


def build_encoder(name: str, graph, dim: int, **kw):
    """A graph encoder by name: ``table``, ``ppr`` / ``sgc`` (propagated features), ``mlp`` or
    ``gcn`` (any registered class taking ``(in_dim, dim, ...)``)."""
    if name == "table":
        return Table(graph.num_nodes, dim, **kw)
    cls_name, preset = PRESETS.get(name, (name, {}))
    if cls_name not in REGISTRY or cls_name in ("table", "cnn"):
        graph_encoders = sorted(set(REGISTRY) - {"cnn"} | set(PRESETS))
        raise InputError(f"unknown encoder {name!r}: choose from {', '.join(graph_encoders)}")
    if graph.features is None:
        raise InputError(
            f"the {name!r} encoder needs node features; use 'table' for a graph without them"
        )
    return REGISTRY[cls_name](graph.features.shape[1], dim, **{**preset, **kw})


__all__ = [
    "CNN",
    "GCN",
    "MLP",
    "PRESETS",
    "Propagated",
    "REGISTRY",
    "Table",
    "build_encoder",
    "encoder_config",
    "from_config",
    "propagate",
    "register",
    "spectral_init",
    "spectral_layout",
]
