"""Graph embedding: P_X from the graph's structure (and its features' kNN), encoder over nodes.

With features: P_X = fuzzy union of the graph's edges and the kNN graph of graph-smoothed
features; encoder SGC (propagated features + MLP), inductive. Without features: P_X from
random-walk co-occurrence; encoder a free table.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..encoders import build_encoder, propagate
from ..graphs import Graph
from ..similarity import Affinity, FeatureAffinity, StructureAffinity, combine


def ge_affinity(graph: Graph, k: int, hops: int, walks_per_node: int, walk_length: int, window: int,
                seed: int) -> Affinity:
    """P_X for graph embedding (see the module docstring)."""
    adj = graph.symmetric()
    if graph.features is None:
        return StructureAffinity(adj, walks_per_node=walks_per_node, walk_length=walk_length,
                                 window=window, k=max(k, 1) * 3, seed=seed)
    structure = StructureAffinity(adj)
    if k <= 0:
        return structure
    smoothed = propagate(adj, graph.features, hops)[-1]
    return combine((structure, 1.0), (FeatureAffinity(smoothed, k=k, metric="cosine"), 1.0))


def default_encoder(graph: Graph) -> str:
    return "table" if graph.features is None else "sgc"


def build(graph: Graph, encoder: str, dim: int, hops: int, hidden: int):
    name = default_encoder(graph) if encoder == "auto" else encoder
    kw = {}
    if name in ("sgc",):
        kw = {"hops": hops, "hidden": hidden}
    elif name in ("mlp", "gcn"):
        kw = {"hidden": hidden}
    return name, build_encoder(name, graph, dim, **kw)
