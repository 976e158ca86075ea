"""Graph embedding: P_X from the graph's structure (and its features' kNN), an encoder over nodes.

With features: P_X = fuzzy union of the graph's edges and the k-NN graph (cosine) of the
PPR-propagated features; encoder: the same propagated features through a linear layer with
input dropout (inductive). Without features: P_X = positive PMI of random-walk co-occurrence;
encoder: a free table.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..encoders import build_encoder, propagate
from ..graphs import Graph
from ..similarity import Affinity, FeatureAffinity, StructureAffinity, combine


@dataclass
class GEDefaults:
    """Settings that differ between graphs with and without features (chosen by the data)."""

    encoder: str
    epochs: int
    lr: float


WITH_FEATURES = GEDefaults(encoder="ppr", epochs=50, lr=5e-3)
STRUCTURE_ONLY = GEDefaults(encoder="table", epochs=200, lr=0.05)


def defaults(graph: Graph) -> GEDefaults:
    return STRUCTURE_ONLY if graph.features is None else WITH_FEATURES


def ge_affinity(graph: Graph, k: int, hops: int, alpha: float, walks_per_node: int, walk_length: int,
                window: int, seed: int, smoothed=None) -> Affinity:
    """P_X for graph embedding (see the module docstring); ``smoothed``: the propagated
    features when the encoder has already computed them."""
    adj = graph.symmetric()
    if graph.features is None:
        return StructureAffinity(adj, walks_per_node=walks_per_node, walk_length=walk_length,
                                 window=window, k=max(k, 1) * 10, seed=seed)
    structure = StructureAffinity(adj)
    if k <= 0:
        return structure
    if smoothed is None:
        smoothed = propagate(adj, graph.features, hops, alpha)
    return combine((structure, 1.0), (FeatureAffinity(smoothed, k=k, metric="cosine", weights="binary"), 1.0))


def build(graph: Graph, encoder: str, dim: int, hops: int, alpha: float, hidden: int):
    name = defaults(graph).encoder if encoder == "auto" else encoder
    kw = {}
    if name == "ppr":
        kw = {"hops": hops, "alpha": alpha, "hidden": hidden}
    elif name in ("mlp", "gcn"):
        kw = {"hidden": hidden}
    return name, build_encoder(name, graph, dim, **kw)
