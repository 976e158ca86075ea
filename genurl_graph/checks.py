"""Checks of the run settings every task shares (seed, device), without importing torch for the
common case, so the command line refuses bad input before loading it."""

from __future__ import annotations

import re

import numpy as np

from .errors import InputError


def check_seed(seed) -> None:
    """A seed is an integer in 0..2^32-1 (what numpy's and torch's generators take)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(
            f"the seed (random_state) must be an integer in 0..4294967295, got {seed!r}"
        )


def check_device(device) -> None:
    """A torch device that this machine has: cpu, cuda or cuda:N (when torch sees CUDA). The
    strings cpu and cpu:N are accepted, and strings that are not cpu, cuda or cuda:N refused,
    without importing torch."""
    if isinstance(device, str):
        if re.fullmatch(r"cpu(:\d+)?", device):
            return
        if not re.fullmatch(r"cuda(:\d+)?", device):
            raise InputError(f"unknown device {device[:40]!r}: use cpu, cuda or cuda:N")
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"unknown device {str(device)[:40]!r}: use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {str(device)!r} asked for, but torch sees no CUDA device")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(
                f"device {str(device)!r} asked for, but torch sees {torch.cuda.device_count()} "
                "CUDA device(s)"
            )
    elif dev.type != "cpu":
        raise InputError(f"device {str(device)!r} is not supported: use cpu, cuda or cuda:N")
