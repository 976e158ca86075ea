"""The task protocol: what a task gives the estimator, and what the estimator does with it.

A task is any object (a module such as :mod:`genurl_graph.tasks.ge`, or a user's own object
passed as ``GenURL(task=...)``) with

- ``build(model, X, **inputs) -> Plan``: P_X, the encoder and its inputs, the task's default
  :class:`~genurl_graph.engine.TrainConfig`, and how to read the embedding off the trained
  encoder;
- ``transform(model, X, **inputs) -> ndarray``: new data through the fitted encoder (``graph=``
  the new rows' graph, for encoders that need one);
- ``INPUTS_KIND`` (optional): what ``genurl apply`` reads as new data, ``rows`` (default),
  ``matrix`` or ``images`` (:func:`genurl_graph.io.read_inputs`).

:meth:`GenURL.fit <genurl_graph.GenURL.fit>` then does the same for every task: the user's
settings replace the plan's defaults, the trainer runs the plan's stream (by default the edges
of its P_X), ``refine`` becomes a trainer hook, and the plan's ``embed`` gives ``embeddings_``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import torch

from ..engine import TrainConfig
from ..errors import InputError


@dataclass
class Plan:
    """Everything one fit needs.

    ``affinity``: the static P_X over the ``num_nodes`` rows of ``encoder(inputs)`` (None when
    ``stream`` draws its own, as SSL's view graphs); ``negative_weights``: how the push pool is
    drawn (uniform when None); ``stream``: the batches (default: P_X's edges,
    :class:`~genurl_graph.engine.EdgeStream`); ``latent``: the representation the ``refine``
    kNN graph is built from (default: the encoder's output), ``on_refresh`` what a new latent
    P_X changes (default: the stream's edges), ``refiner`` the
    :class:`~genurl_graph.similarity.LatentKNN` to update (default: one over ``affinity`` with
    ``refine_k`` neighbours at P = ``refine_weight``); ``embed``: the trained encoder's
    embedding (default: ``encoder(inputs)``); ``fitted``: more ``*_``
    attributes for the estimator (``encoder_name_``, ``graph_``, ...; ``encoder_`` there replaces
    the trained module, e.g. the CNN inside SSL's per-view wrapper); ``threads``: torch threads
    while training (None: as they are); ``late``: (fraction, affinity), the P_X whose edges the
    stream trains on from that fraction of the epochs on (DR's averaged P; None: one P_X)."""

    encoder: torch.nn.Module
    inputs: Any
    config: TrainConfig
    num_nodes: int
    affinity: Any = None
    negative_weights: np.ndarray | None = None
    stream: Any = None
    latent: Callable | None = None
    on_refresh: Callable | None = None
    refiner: Any = None
    refine_k: int = 10
    refine_weight: float = 0.5
    embed: Callable | None = None
    threads: int | None = None
    late: tuple | None = None
    fitted: dict = field(default_factory=dict)


class Task(Protocol):
    """What ``GenURL(task=...)`` accepts besides a built-in task name."""

    def build(self, model, X, **inputs) -> Plan: ...

    def transform(self, model, X, **inputs) -> np.ndarray: ...


def setting(model, name: str, default):
    """The user's value of an estimator parameter, or the task's ``default`` when left at None."""
    value = getattr(model, name)
    return default if value is None else value


def to_device(inputs, device):
    """Encoder inputs (a tensor, a tuple of tensors, or None) on ``device``."""
    if inputs is None:
        return None
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, tuple):
        return tuple(x.to(device) for x in inputs)
    return inputs


def user_encoder(model, data_inputs):
    """The user's own encoder module (``GenURL(encoder=module)``), a fresh copy per fit, and its
    inputs: ``module.prepare(data)`` when it has one, else ``data_inputs()``."""
    import copy

    encoder = copy.deepcopy(model.encoder)
    if not callable(getattr(encoder, "forward", None)):
        raise InputError(
            f"encoder must be a name or a torch.nn.Module, got {type(encoder).__name__}"
        )
    return encoder, data_inputs(encoder)


def float_tensor(X) -> torch.Tensor:
    """A dense or scipy sparse matrix (or any array) as a contiguous float32 tensor."""
    import scipy.sparse as sp

    return torch.from_numpy(
        np.ascontiguousarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)
    )


def rows_inputs(encoder, X):
    """An encoder's inputs from rows X: ``encoder.prepare(X)`` when it has one, else X as a
    float32 tensor (a user's plain module)."""
    return encoder.prepare(X) if hasattr(encoder, "prepare") else float_tensor(X)


def embed(encoder, inputs) -> np.ndarray:
    """``encoder(inputs)`` in eval mode, without gradients, as float32 numpy."""
    encoder.eval()
    with torch.no_grad():
        return encoder(inputs).detach().cpu().numpy().astype(np.float32)
