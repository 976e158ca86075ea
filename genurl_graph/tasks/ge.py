"""Graph embedding: P_X from the graph's structure (and its features' kNN), an encoder over nodes.

With features: P_X = fuzzy union of the graph's edges and the k-NN graph (cosine) of the
PPR-propagated features; encoder: the same propagated features through a linear layer with
input dropout (inductive). Each node may be trained as ``copies`` copies (one by default), each
with its own dropout mask drawn afresh every epoch (feature-masked views), P_X inside every
copy and P = 1 between the copies of a node. Without features: P_X = the graph's weighted edges
(each row scaled
so its strongest edge is 1); encoder: a free table started in closed form, from the rank-dim
factors of the one-step transition PMI (:func:`~genurl_graph.similarity.affinity.transition_pmi`,
edge weights included) propagated by ProNE's Chebyshev band-pass filter
(:func:`~genurl_graph.encoders.spectral.propagated_start`): the embedding itself on graphs of
up to 50k nodes, unless ``epochs=N`` refines it by the GKL loss (pushed from nodes drawn by
degree^0.75); larger graphs train 2 epochs of a few large batches (:func:`defaults`). With
``walks_per_node > 0`` P_X adds each node's
strongest contexts by shifted PMI of (weighted) random-walk co-occurrence, and the start is
the SVD of that PMI matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..encoders import build_encoder, spectral_init
from ..encoders.spectral import propagated_start
from ..encoders.propagated import propagate
from ..engine import TrainConfig
from ..errors import InputError
from ..graphs import Graph, as_graph
from ..similarity import Affinity, FeatureAffinity, StructureAffinity, combine
from ..similarity.affinity import transition_pmi
from ._data import check_finite
from .base import Plan, embed, float_tensor, setting, to_device, user_encoder


INPUTS_KIND = "rows"  # what `genurl apply` reads for this task (genurl_graph.io.read_inputs)


@dataclass(frozen=True)
class GEDefaults:
    """Settings that differ between graphs with and without features (chosen by the data):
    the task's own and its training defaults (``train``)."""

    encoder: str
    dim: int
    train: TrainConfig
    negative_power: float | None  # push pool drawn by degree^power; None: uniform
    k: int = 5  # neighbours of the propagated features in P_X
    copies: int = 1  # views of each node linked in P_X (graphs with features; 1: none)


# copies=2 (each node as two dropout-masked copies linked in P_X) raised validation accuracy, not
# test
# accuracy (Cora 82.65 over 2 seeds, CiteSeer 70.50; docs/ge-features.md) at twice the cost: off
WITH_FEATURES = GEDefaults(
    encoder="ppr", dim=512, train=TrainConfig(epochs=50, lr=5e-3, nu=1.0), negative_power=None
)
# Structure only: the closed-form start (ProNE's factorisation and propagation) is the embedding;
# training does not earn its time there (docs/structure.md): 2 epochs over the edges raised PPI's
# macro-F1 / auROC from 0.2003 / 0.7123 to 0.2029 / 0.7208 but left BlogCatalog's at 0.2458 /
# 0.7686 against the start's 0.2474 / 0.7677, at 8x the start's time. ``epochs=N`` trains N.
STRUCTURE_ONLY = GEDefaults(
    encoder="table",
    dim=128,
    train=TrainConfig(epochs=0, lr=0.01, nu=10.0, batch_size=16384),
    negative_power=0.75,
)


# nodes: above this a structure-only graph trains LARGE_EPOCHS in batches of 2n edges
LARGE = 50_000
LARGE_EPOCHS = 2


def defaults(graph: Graph, encoder: str | None = None) -> GEDefaults:
    """The settings for ``graph``; a free ``table`` on a graph with features starts from random
    rows (no spectral start), so it takes a larger step.

    Structure only, large graphs: every Adam step updates the whole (n x dim) table, so a batch
    holds at least 2 edges per node instead of thousands of table-sized steps. That makes
    training a handful of steps (2 epochs: about 5 on DBLP), cheap beside the start, so large
    graphs train ``LARGE_EPOCHS``: on DBLP (51k nodes) they raised the auROC from 0.7100 to
    0.7209 (macro-F1 0.0586 -> 0.0587) for 1.7 s more; small graphs keep the start (above).
    The push pool shrinks to 2^22 / n (at least 32, as DR's): a batch's push is a
    (sources x pool) block, ~3 GB of autograd temporaries at n = 10^6 with 128."""
    if graph.features is None:
        n = graph.num_nodes
        if n <= LARGE:
            return STRUCTURE_ONLY
        train = STRUCTURE_ONLY.train
        return replace(
            STRUCTURE_ONLY,
            train=replace(
                train,
                batch_size=max(train.batch_size, 2 * n),
                epochs=LARGE_EPOCHS,
                pool=int(np.clip(2**22 // n, 32, train.pool)),
            ),
        )
    if encoder == "table":
        return replace(WITH_FEATURES, encoder="table", train=replace(WITH_FEATURES.train, lr=0.05))
    return WITH_FEATURES


def ge_affinity(
    graph: Graph,
    k: int,
    hops: int,
    alpha: float,
    walks_per_node: int,
    walk_length: int,
    window: int,
    seed: int,
    smoothed=None,
) -> Affinity:
    """P_X for graph embedding (see the module docstring); ``smoothed``: the propagated
    features when the encoder has already computed them."""
    adj = graph.symmetric()
    if graph.features is None:
        return StructureAffinity(
            adj,
            walks_per_node=walks_per_node,
            walk_length=walk_length,
            window=window,
            k=max(k, 1) * 10,
            seed=seed,
        )
    structure = StructureAffinity(adj)
    k = min(k, graph.num_nodes - 1)  # a graph of k nodes or fewer: every other node
    if k <= 0:
        return structure
    if smoothed is None:
        smoothed = propagate(adj, graph.features, hops, alpha)
    return combine(
        (structure, 1.0), (FeatureAffinity(smoothed, k=k, metric="cosine", weights="binary"), 1.0)
    )


def wire(
    graph: Graph,
    encoder: str,
    dim: int | None,
    k: int,
    hops: int,
    alpha: float,
    hidden: int,
    walks_per_node: int,
    walk_length: int,
    window: int,
    seed: int,
    own_affinity: bool = True,
):
    """Everything the trainer needs for GE: (encoder name, encoder, its inputs, P_X, pool
    weights). ``own_affinity=False`` (the user gives P_X): the graph's P_X is built only where
    the table's start needs it (its random-walk contexts), else it is None."""
    name = defaults(graph).encoder if encoder == "auto" else encoder
    dim = dim or defaults(graph).dim
    enc = inputs = None
    if name == "ppr":
        enc = build_encoder(name, graph, dim, hops=hops, alpha=alpha, hidden=hidden)
        inputs = enc.prepare(graph)  # P_X reuses the encoder's propagation
    affinity = None
    if own_affinity or (name == "table" and walks_per_node > 0):
        affinity = ge_affinity(
            graph,
            k,
            hops,
            alpha,
            walks_per_node,
            walk_length,
            window,
            seed,
            None if inputs is None else inputs.numpy(),
        )
    if enc is None:
        kw = {"hidden": hidden} if name in ("mlp", "gcn") else {}
        if name == "table" and getattr(affinity, "context", None) is not None:
            kw = {"init": spectral_init(affinity.context, dim, seed)}
            # only the start needs it (O(n k) non-zeros): free it for training
            affinity.context = None
        elif name == "table" and graph.features is None:
            adj = graph.symmetric()
            kw = {"init": propagated_start(transition_pmi(adj), adj, dim, seed)}
        enc = build_encoder(name, graph, dim, **kw)
    if inputs is None:
        inputs = enc.prepare(graph)
    power = defaults(graph).negative_power
    neg_w = None
    if power is not None and name == "table":
        neg_w = np.asarray(graph.symmetric().getnnz(1), dtype=np.float64) ** power
        neg_w = np.where(neg_w > 0, neg_w, neg_w[neg_w > 0].min() if (neg_w > 0).any() else 1.0)
    return name, enc, inputs, affinity, neg_w


def build(
    model,
    X,
    features=None,
    views: int = 0,
    drop_edge: float = 0.2,
    mask_feature: float = 0.3,
    affinity=None,
) -> Plan:
    """GE's plan: P_X and the encoder for the graph ``X`` (with ``features``).

    ``views=V`` (graph SSL on the same engine): V GRACE-style views of the graph (edges dropped
    with probability ``drop_edge``, feature columns masked with ``mask_feature``) become node
    copies, each linked to its original with P = 1
    (:func:`~genurl_graph.similarity.copies.with_view_edges`);
    the encoder embeds all copies, the originals' rows are the embedding. Off by default: on
    Cora and CiteSeer it did not raise the probe accuracy (docs/benchmarks.md, "Graph views").
    ``affinity``: your own P_X over the graph's nodes, instead of the graph's."""
    from ..graphs.views import graph_views
    from ..similarity import precomputed
    from ..similarity.copies import tiled_copies, with_view_edges

    graph = as_graph(X, features)
    if graph.features is not None:  # else it surfaces as a diverged loss
        check_finite(graph.features, "the node feature matrix")
    k = setting(model, "k", WITH_FEATURES.k)
    n = graph.num_nodes
    if isinstance(model.encoder, torch.nn.Module):
        name = "custom"
        encoder, inputs = user_encoder(
            model,
            lambda enc: (
                enc.prepare(graph)
                if hasattr(enc, "prepare")
                else (None if graph.features is None else float_tensor(graph.features))
            ),
        )
        own = (
            ge_affinity(
                graph,
                k,
                model.hops,
                model.alpha,
                model.walks_per_node,
                model.walk_length,
                model.window,
                model.random_state,
            )
            if affinity is None
            else None
        )
        neg_w = None
    else:
        name, encoder, inputs, own, neg_w = wire(
            graph,
            model.encoder,
            model.dim,
            k,
            model.hops,
            model.alpha,
            setting(model, "hidden", 512),
            model.walks_per_node,
            model.walk_length,
            model.window,
            model.random_state,
            own_affinity=affinity is None,
        )
    affinity = precomputed(affinity, n) if affinity is not None else own
    if views:
        if not getattr(encoder, "inductive", False) or not isinstance(inputs, torch.Tensor):
            raise InputError(
                f"graph views need an inductive encoder over node features (ppr, sgc, mlp), not "
                f"{name!r}"
            )
        copies = graph_views(graph, views, drop_edge, mask_feature, model.random_state)
        inputs = torch.cat([inputs] + [encoder.prepare(v) for v in copies])
        affinity = with_view_edges(affinity, n, views)
    auto = defaults(graph, name)
    copies = auto.copies if not views and name == "ppr" else 1
    # feature-masked views: the encoder's input dropout masks each copy afresh every epoch
    if copies > 1:
        inputs, affinity = inputs.repeat(copies, 1), tiled_copies(affinity, n, copies)
    return Plan(
        encoder=encoder,
        inputs=inputs,
        config=auto.train,
        num_nodes=max(views + 1, copies) * n,
        affinity=affinity,
        negative_weights=neg_w,
        refine_k=k,
        embed=lambda enc, x: embed(enc, x[:n] if isinstance(x, torch.Tensor) else x),
        fitted={"encoder_name_": name, "graph_": graph},
    )


def transform(model, X, features=None, graph=None) -> np.ndarray:
    """Embed the nodes of a (new) graph with the fitted inductive encoder: ``transform(graph)``,
    ``transform(graph, features=F)``, or ``transform(F, graph=graph)``."""
    if (
        graph is None
        and features is None
        and isinstance(X, np.ndarray)
        and X.ndim == 2
        and X.shape[1] > 3
    ):
        raise InputError(
            f"a graph embedding with the {model.encoder_name_} encoder needs the new nodes' graph: "
            "transform(graph, features=F) or transform(F, graph=graph) (CLI: --graph)"
        )
    graph = as_graph(X, features) if graph is None else as_graph(graph, X)
    if graph.features is not None:
        check_finite(graph.features, "the node feature matrix")
    return embed(model.encoder_, to_device(model.encoder_.prepare(graph), model.device))
