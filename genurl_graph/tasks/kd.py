"""Knowledge distillation: P_X from the kNN graph of a teacher's embeddings, a student encoder.

P_X = the fuzzy union of each row's k nearest teacher rows (static similarity; no labels); the
student (an MLP over its own inputs X, or a GCN over X and a graph) learns Z whose Q_Z keeps
it. The student never sees the teacher's embedding itself, only its neighbourhoods, so the two
may have different dimensions. With ``teacher=X`` the same wiring is plain parametric DR of X:
the "student without a teacher" baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from ..errors import InputError
from ..graphs import Graph, as_graph
from ..similarity import FeatureAffinity, precomputed
from ..engine import TrainConfig
from ._data import as_matrix
from .base import Plan, embed, rows_inputs, setting, to_device, user_encoder

STUDENTS = ("mlp", "gcn")


INPUTS_KIND = "rows"  # what `genurl apply` reads for this task (genurl_graph.io.read_inputs)


@dataclass(frozen=True)
class KDDefaults:
    """Settings of the student when left at None on :class:`GenURL`, chosen on Cora with a GE
    teacher (seed 0, probe C chosen on the validation nodes): input dropout 0.5 also lets the
    student embed unseen nodes; 3 layers (two hidden of 512) lift the student 2.3 points over 2
    layers (the no-teacher MLP gains 1.2 from them); teacher k 10/30/50, euclidean, binary weights,
    nu 0.5/2,
    10 negatives, dim 256, hidden 1024, lr 1e-3, 100 or 300 epochs, 4 layers: no better."""

    dim: int = 128
    k: int = 15
    dropout: float = 0.5
    layers: int = 3
    weights: str = "smooth"
    train: TrainConfig = TrainConfig(epochs=150, lr=3e-3, nu=1.0, negatives=5.0)


DEFAULTS = KDDefaults()


def _split_inputs(X, features, graph):
    """(inputs matrix, graph or None) from fit/transform's arguments."""
    if isinstance(X, Graph) or type(X).__module__.split(".")[0] in ("dgl", "networkx"):
        g = as_graph(X, features)
        if g.features is None:
            raise InputError("the student needs node features as its inputs")
        return g.features, g if graph is None else as_graph(graph)
    if features is not None:
        raise InputError("kd takes the student's inputs as X; features= is only for a graph X")
    return X, None if graph is None else as_graph(graph)


def _student(model, X, graph, dim: int, norm: str, dropout: float, layers: int):
    from ..encoders import GCN, MLP

    if isinstance(model.encoder, torch.nn.Module):  # the user's own student
        return user_encoder(model, lambda enc: rows_inputs(enc, X))
    if model.student not in STUDENTS:
        raise InputError(f"unknown student {model.student!r}: choose from {', '.join(STUDENTS)}")
    if model.student == "gcn":
        if graph is None:
            raise InputError(
                "the gcn student needs a graph (graph=, or --graph) over the input rows"
            )
        if graph.num_nodes != X.shape[0]:
            raise InputError(
                f"the graph has {graph.num_nodes} nodes but the inputs have {X.shape[0]} rows"
            )
        enc = GCN(X.shape[1], dim, hidden=setting(model, "hidden", 512), layers=layers)
        return enc, enc.prepare(Graph(graph.adj, graph.ids, X, graph.directed, graph.source))
    if norm not in ("l1", "standard", "none"):
        raise InputError(f"unknown norm {norm!r}: standard, l1 or none")
    enc = MLP(
        X.shape[1],
        dim,
        hidden=setting(model, "hidden", 512),
        layers=layers,
        norm=norm,
        dropout=dropout,
    ).fit_norm(X)
    return enc, enc.prepare(X)


def build(
    model,
    X,
    features=None,
    teacher=None,
    graph=None,
    norm: str = "standard",
    dropout: float | None = None,
    layers: int | None = None,
    metric: str | None = None,
    weights: str | None = None,
    affinity=None,
) -> Plan:
    """KD's plan: P_X from the teacher's kNN graph (or your own ``affinity`` over the rows, then
    ``teacher`` is not needed), the student over X.

    ``X`` (n, f) array or sparse matrix (or a graph with node features); ``teacher`` (n, d)
    embeddings of the same rows in the same order; ``graph`` for the ``gcn`` student. ``norm``
    (mlp): how X is scaled: ``standard`` (centred, one scale; also for bag-of-words, whose
    L1-normalised rows are too small a signal for the student), ``l1`` or ``none``; ``metric`` of
    the teacher's kNN
    (default: the model's, ``auto`` = cosine).
    """
    if model.student not in STUDENTS:
        raise InputError(f"unknown student {model.student!r}: choose from {', '.join(STUDENTS)}")
    if teacher is None and affinity is None:
        raise InputError("task 'kd' needs the teacher's embeddings: fit(X, teacher=T)")
    X, graph = _split_inputs(X, features, graph)
    X = as_matrix(X, "the student's inputs")
    if teacher is None:
        teacher = X
    T = as_matrix(teacher.toarray() if sp.issparse(teacher) else teacher, "the teacher")
    if T.shape[0] != X.shape[0]:
        raise InputError(
            f"the teacher has {T.shape[0]} rows but the inputs have {X.shape[0]}: "
            "one teacher row per input row, in the same order"
        )
    if T.shape[0] < 2:
        raise InputError(
            f"a teacher of {T.shape[0]} row{'' if T.shape[0] == 1 else 's'} cannot have "
            "neighbours: need at least 2 rows"
        )
    metric = metric or ("cosine" if model.metric == "auto" else model.metric)
    k = min(setting(model, "k", DEFAULTS.k), T.shape[0] - 1)
    if k < 1:
        raise InputError(f"k must be at least 1 for distillation, got {k}")
    affinity = (
        FeatureAffinity(T, k=k, metric=metric, weights=weights or DEFAULTS.weights)
        if affinity is None
        else precomputed(affinity, X.shape[0])
    )
    dim = setting(model, "dim", DEFAULTS.dim)
    encoder, inputs = _student(
        model,
        X,
        graph,
        dim,
        norm,
        DEFAULTS.dropout if dropout is None else dropout,
        layers or DEFAULTS.layers,
    )
    return Plan(
        encoder=encoder,
        inputs=inputs,
        config=DEFAULTS.train,
        num_nodes=X.shape[0],
        affinity=affinity,
        refine_k=k,
        fitted={"encoder_name_": model.student if isinstance(model.encoder, str) else "custom"},
    )


def transform(model, X, features=None, graph=None) -> np.ndarray:
    """Embed new rows with the fitted student: X only (mlp), or X and their graph (gcn)."""
    X, graph = _split_inputs(X, features, graph)
    X = as_matrix(X, "the inputs")
    enc = model.encoder_
    in_dim = getattr(enc, "in_dim", None)
    if in_dim is not None and X.shape[1] != in_dim:
        raise InputError(f"the student takes {in_dim} input columns, got {X.shape[1]}")
    if hasattr(enc, "convs"):
        if graph is None:
            raise InputError("the gcn student needs the graph of the new rows (graph=, or --graph)")
        if graph.num_nodes != X.shape[0]:
            raise InputError(
                f"the graph has {graph.num_nodes} nodes but the inputs have {X.shape[0]} rows"
            )
        inputs = enc.prepare(Graph(graph.adj, graph.ids, X, graph.directed, graph.source))
    else:
        inputs = rows_inputs(enc, X)
    return embed(enc, to_device(inputs, model.device))
