"""Model files: a fitted inductive encoder, its estimator's parameters, one file, no arbitrary
unpickling.

The file is ``torch.save`` of a plain dict: a format marker and version, the estimator's
``get_params()`` and the encoder's registry entry (:mod:`genurl_graph.encoders.base`) as one
JSON string, and the encoder's ``state_dict`` (weights and buffers, such as the MLP's saved
input scaling). It is read back with ``torch.load(weights_only=True)``, which unpickles only
tensors and plain containers; anything without the marker is refused with an
:class:`InputError`. :meth:`GenURL.save` and :meth:`GenURL.load` are the entry points.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .encoders import encoder_config, from_config
from .errors import InputError
from .io import atomic_write, check_output_path, existing_file

FORMAT = "genurl-graph model"
VERSION = 1


def write_model(path, params: dict, encoder_name: str | None, encoder: torch.nn.Module) -> Path:
    """Write ``params`` (JSON-able estimator parameters) and ``encoder`` to ``path`` atomically."""
    path = check_output_path(path, None)
    config = {"params": params, "encoder_name": encoder_name, "encoder": encoder_config(encoder)}
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    blob = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config, default=_json_default),
        "state": state,
    }
    with atomic_write(path) as fh:
        torch.save(blob, fh)
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a model file")


def read_model(path, device: str = "cpu") -> tuple[dict, str, torch.nn.Module]:
    """(estimator parameters, encoder name, encoder with its weights, in eval mode on
    ``device``) from a file written by :func:`write_model`; other files are refused."""
    path = existing_file(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle with code, a zip of something else, text, ...
        raise InputError(
            f"not a genurl-graph model file, refusing to read it ({type(exc).__name__})", path
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise InputError(
            "not a genurl-graph model file (no format marker), refusing to read it", path
        )
    if blob.get("version") != VERSION:
        raise InputError(
            f"model file format version {blob.get('version')!r} is not supported "
            f"(this genurl-graph reads version {VERSION})",
            path,
        )
    try:
        config = json.loads(blob["config"])
        params = dict(config["params"])
        encoder = from_config(config["encoder"])
        encoder.load_state_dict(blob["state"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(
            f"damaged genurl-graph model file ({type(exc).__name__}: {exc})", path
        ) from None
    encoder.to(device).eval()
    return params, config.get("encoder_name") or config["encoder"]["class"], encoder
