"""The encoder registry: one name per encoder class, read by :func:`build_encoder` and by
persistence (:mod:`genurl_graph.persist`).

An encoder is an :class:`Encoder` (an ``nn.Module``) with ``prepare(data) -> inputs`` (done
once, outside training), ``forward(inputs) -> Z``, ``inductive`` (whether it embeds new data)
and ``reset_parameters()``; ``config()``, the constructor arguments that rebuild it (its
weights travel in the state_dict), comes from the constructor itself. A new encoder is one file
with a class decorated by :func:`register`.
"""

from __future__ import annotations

import inspect

import numpy as np
import scipy.sparse as sp
from torch import nn

from ..errors import InputError

REGISTRY: dict[str, type] = {}


class Encoder(nn.Module):
    """Base of the registered encoders: keeps each constructor argument as an attribute of the
    same name, and :meth:`config` reads them back."""

    inductive = True

    def config(self) -> dict:
        """The constructor arguments kept as attributes (an argument that is not, such as a
        table's start, is not part of the config)."""
        names = inspect.signature(type(self).__init__).parameters
        return {k: getattr(self, k) for k in names if k != "self" and hasattr(self, k)}


def register(name: str):
    """Class decorator: make an encoder class buildable (and loadable from a model file) by
    ``name``."""

    def deco(cls):
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return deco


def encoder_config(encoder: nn.Module) -> dict:
    """``{"class": name, **constructor arguments}`` of a registered encoder."""
    name = getattr(type(encoder), "name", None)
    if REGISTRY.get(name) is not type(encoder) or not hasattr(encoder, "config"):
        raise InputError(
            f"cannot save a {type(encoder).__name__} encoder: only registered encoders "
            f"({', '.join(sorted(REGISTRY))}) are saved"
        )
    return {"class": name, **encoder.config()}


def from_config(config: dict) -> nn.Module:
    """The encoder that :func:`encoder_config` described (untrained weights)."""
    cfg = dict(config)
    kind = cfg.pop("class", None)
    if kind not in REGISTRY:
        raise InputError(f"unknown encoder class {kind!r} in the model file")
    return REGISTRY[kind](**cfg)


def reset_all(module: nn.Module) -> None:
    """Reset every sub-module that has ``reset_parameters`` (linear, PReLU, conv, batch norm)."""
    for child in module.modules():
        if child is not module and hasattr(child, "reset_parameters"):
            child.reset_parameters()


def dense_features(graph) -> np.ndarray:
    X = graph.features
    if X is None:
        raise InputError("this encoder needs node features")
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def mlp_layers(dims: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of widths ``dims`` with PReLU between, after an input dropout when
    ``dropout``."""
    layers = [nn.Dropout(dropout)] if dropout else []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers.append(nn.PReLU())
    return nn.Sequential(*layers)
