"""Saving and loading a fitted inductive :class:`GenURL`: one file, no arbitrary unpickling.

The file is ``torch.save`` of a plain dict: a format marker and version, the estimator's
parameters and the encoder's constructor arguments as one JSON string, and the encoder's
``state_dict`` (weights and buffers, such as the MLP's saved input scaling). It is read back
with ``torch.load(weights_only=True)``, which unpickles only tensors and plain containers;
anything without the marker is refused with an :class:`InputError`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import InputError

FORMAT = "genurl-graph model"
VERSION = 1
# Estimator parameters kept in the file (the progress callback is not).
_PARAMS = ("task", "dim", "encoder", "epochs", "lr", "nu", "nu_end", "negatives", "k", "metric", "parametric",
           "student", "hops", "alpha", "hidden", "walks_per_node", "walk_length", "window", "batch_size",
           "patience", "random_state", "backend")


def _dropout(net: nn.Sequential) -> float:
    return float(net[0].p) if len(net) and isinstance(net[0], nn.Dropout) else 0.0


def encoder_config(encoder: nn.Module) -> dict:
    """The constructor arguments that rebuild ``encoder`` (its weights come from the state_dict)."""
    from .encoders import CNN, GCN, MLP, Propagated

    if isinstance(encoder, CNN):
        return {"class": "cnn", "channels": encoder.channels, "dim": encoder.dim, "width": encoder.width,
                "proj_hidden": encoder.proj_hidden}
    if isinstance(encoder, MLP):
        return {"class": "mlp", "in_dim": encoder.in_dim, "dim": encoder.dim, "hidden": encoder.hidden,
                "layers": encoder.layers, "norm": encoder.norm, "dropout": _dropout(encoder.net)}
    if isinstance(encoder, Propagated):
        linears = [m for m in encoder.net if isinstance(m, nn.Linear)]
        return {"class": "ppr", "in_dim": linears[0].in_features, "dim": linears[-1].out_features,
                "hops": encoder.hops, "alpha": encoder.alpha, "layers": len(linears),
                "hidden": linears[0].out_features if len(linears) > 1 else 1, "dropout": _dropout(encoder.net)}
    if isinstance(encoder, GCN):
        convs = encoder.convs
        return {"class": "gcn", "in_dim": convs[0]._in_feats, "dim": convs[-1]._out_feats,
                "hidden": convs[0]._out_feats if len(convs) > 1 else 1, "layers": len(convs)}
    raise InputError(f"cannot save a {type(encoder).__name__} encoder: only inductive encoders (mlp, ppr, sgc, "
                     "gcn) can embed new data, so only they are saved")


def build_from_config(config: dict) -> nn.Module:
    from .encoders import CNN, GCN, MLP, Propagated

    cfg = dict(config)
    kind = cfg.pop("class")
    if kind == "mlp":
        return MLP(**cfg)
    if kind == "ppr":
        return Propagated(**cfg)
    if kind == "gcn":
        return GCN(**cfg)
    if kind == "cnn":
        return CNN(**cfg)
    raise InputError(f"unknown encoder class {kind!r} in the model file")


def save(model, path) -> Path:
    """Write the fitted ``model`` to ``path`` atomically (a temporary file, then a rename)."""
    from .io import atomic_write, check_output_path

    if not hasattr(model, "encoder_"):
        raise RuntimeError("call fit before save")
    path = check_output_path(path, None)
    config = {"params": {name: getattr(model, name) for name in _PARAMS},
              "encoder_name": getattr(model, "encoder_name_", None),
              "encoder": encoder_config(model.encoder_)}
    state = {k: v.detach().cpu().contiguous() for k, v in model.encoder_.state_dict().items()}
    blob = {"format": FORMAT, "version": VERSION, "config": json.dumps(config, default=_json_default),
            "state": state}
    with atomic_write(path) as fh:
        torch.save(blob, fh)
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")


def load(path, device: str = "cpu"):
    """A fitted :class:`GenURL` from a file written by :func:`save`; other files are refused."""
    from .io import existing_file
    from .model import GenURL

    path = existing_file(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code, a zip of something else, text, ...
        raise InputError(f"not a genurl-graph model file, refusing to read it ({type(exc).__name__})",
                         path) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError("not a genurl-graph model file (no format marker), refusing to read it", path)
    if blob.get("version") != VERSION:
        raise InputError(f"model file format version {blob.get('version')!r} is not supported "
                         f"(this genurl-graph reads version {VERSION})", path)
    try:
        config = json.loads(blob["config"])
        model = GenURL(**config["params"], device=device)
        encoder = build_from_config(config["encoder"])
        encoder.load_state_dict(blob["state"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"damaged genurl-graph model file ({type(exc).__name__}: {exc})", path) from None
    encoder.to(device).eval()
    model.encoder_ = encoder
    model.encoder_name_ = config.get("encoder_name") or config["encoder"]["class"]
    return model
