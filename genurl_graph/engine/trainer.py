"""The trainer: Adam over edge mini-batches of P_X with negatives drawn per batch."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..errors import TrainingDiverged
from ..kernels import resolve_backend
from .loss import gkl_loss, nu_schedule

ProgressFn = Callable[[int, int, float], None]


@dataclass
class TrainResult:
    """What a fit did: the loss of each epoch, whether it stopped on a plateau, wall seconds."""

    losses: list = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0
    backend: str = ""


class Trainer:
    """Minimise the GKL loss of an encoder's embeddings against an affinity's P_X.

    Each epoch visits every P_X edge once, in shuffled batches of ``batch_size`` edges (all at
    once when ``None``); each batch draws a pool of ``pool`` uniform nodes that every source in
    it is pushed from, weighted ``negatives`` per edge, so memory does not grow with the
    negatives. ``optimizer``: ``"adam"`` on the mean loss per edge, or ``"sgd"`` on the summed
    loss with each gradient entry clipped to ``clip`` (UMAP's per-edge steps, taken for all
    edges at once: the right tool for a free layout, where Adam's per-step bound slows the
    large moves). ``form``: the loss form (:func:`gkl_loss`). ``lr_decay``: the step size falls
    linearly to zero over the epochs (layouts settle, as UMAP's SGD does); else a constant
    ``lr``. ``nu`` (nu_Z) may be raised towards ``nu_end`` during training. Training stops early
    when the epoch loss has not improved by a relative ``tol`` for ``patience`` epochs (not with
    ``nu_end`` or ``lr_decay``, whose losses are not comparable across epochs). All randomness
    comes from ``seed``.
    """

    def __init__(self, epochs: int = 200, lr: float = 1e-3, nu: float = 1.0, nu_end: float | None = None,
                 negatives: float = 5.0, pool: int = 128, batch_size: int | None = None, patience: int = 30, tol: float = 1e-4,
                 weight_decay: float = 0.0, seed: int = 0, device: str = "cpu", backend: str = "auto",
                 progress: ProgressFn | None = None, lr_decay: bool = False, optimizer: str = "adam",
                 clip: float = 4.0, form: str = "fuzzy"):
        if optimizer not in ("adam", "sgd"):
            raise ValueError(f"unknown optimizer {optimizer!r}: adam or sgd")
        if epochs < 1:
            raise ValueError("epochs must be at least 1")
        if negatives < 0:
            raise ValueError("negatives must be >= 0")
        self.epochs, self.lr, self.nu, self.nu_end = epochs, lr, nu, nu_end
        self.negatives, self.pool, self.batch_size, self.patience, self.tol = negatives, pool, batch_size, patience, tol
        self.weight_decay, self.seed, self.device, self.backend = weight_decay, seed, device, backend
        self.progress, self.lr_decay, self.optimizer, self.clip = progress, lr_decay, optimizer, clip
        self.form = form

    def fit(self, encoder: torch.nn.Module, inputs, edges: tuple[np.ndarray, np.ndarray, np.ndarray],
            num_nodes: int, negative_weights: np.ndarray | None = None, refresh=None,
            refresh_every: int = 0) -> TrainResult:
        """Train ``encoder(inputs)`` on P_X ``edges`` (src, dst, p); the push pool is drawn
        uniformly, or in proportion to ``negative_weights`` (n,) when given. A dynamic P_X:
        every ``refresh_every`` epochs, ``refresh(Z)`` (Z the current embedding, numpy) returns
        the new edges (e.g. :class:`~genurl_graph.similarity.LatentKNN`)."""
        device = torch.device(self.device)
        gen = torch.Generator(device=device).manual_seed(self.seed)
        neg_w = None if negative_weights is None else torch.as_tensor(negative_weights, dtype=torch.float32,
                                                                         device=device)
        state = {"edges": tuple(torch.as_tensor(a).to(device) for a in edges)}

        def batches(epoch):
            if refresh is not None and refresh_every and epoch and epoch % refresh_every == 0:
                with torch.no_grad():
                    current = encoder(inputs).detach().cpu().numpy()
                state["edges"] = tuple(torch.as_tensor(a).to(device) for a in refresh(current))
                state["new_p"] = True  # a new P_X: losses are not comparable
            src, dst, p = state["edges"]
            n_edges = len(src)
            batch = n_edges if not self.batch_size else min(self.batch_size, n_edges)
            order = torch.randperm(n_edges, generator=gen, device=device) if batch < n_edges else None
            for lo in range(0, n_edges, batch):
                idx = order[lo:lo + batch] if order is not None else slice(None)
                pool = (torch.randint(0, num_nodes, (self.pool,), generator=gen, device=device) if neg_w is None
                        else torch.multinomial(neg_w, self.pool, replacement=True, generator=gen))
                yield inputs, src[idx], dst[idx], p[idx], pool

        return self.fit_batches(encoder, batches, state)

    def fit_batches(self, encoder: torch.nn.Module, batches, state: dict | None = None) -> TrainResult:
        """The loop itself, over any stream of batches: ``batches(epoch)`` yields
        ``(inputs, src, dst, p, pool)``, P_X edges among the rows of ``encoder(inputs)`` and the
        rows each source is pushed from. :meth:`fit` streams a fixed P_X; SSL streams each
        batch's view graph (:mod:`genurl_graph.tasks.ssl`). ``state["new_p"] = True`` set by the
        stream restarts the plateau test."""
        device = torch.device(self.device)
        backend = resolve_backend(self.backend, device)
        state = {} if state is None else state
        params = [prm for prm in encoder.parameters() if prm.requires_grad]
        opt = (torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay) if self.optimizer == "adam"
               else torch.optim.SGD(params, lr=self.lr, weight_decay=self.weight_decay))
        sched = (torch.optim.lr_scheduler.LambdaLR(opt, lambda e: max(1.0 - e / self.epochs, 0.0))
                 if self.lr_decay else None)
        result = TrainResult(backend=backend)
        best, since_best = float("inf"), 0
        start = time.perf_counter()
        encoder.train()
        for epoch in range(self.epochs):
            nu = nu_schedule(self.nu, self.nu_end, epoch, self.epochs)
            total, count = 0.0, 0
            for inputs, s, d, w, pool in batches(epoch):
                z = encoder(inputs)
                loss = gkl_loss(z, s, d, w, pool, nu, self.negatives, backend, self.form)
                opt.zero_grad(set_to_none=True)
                if self.optimizer == "sgd":
                    (loss * len(s)).backward()
                    for prm in params:
                        prm.grad.clamp_(-self.clip, self.clip)
                else:
                    loss.backward()
                opt.step()
                total += loss.item() * len(s)
                count += len(s)
            if state.pop("new_p", False):
                best, since_best = float("inf"), 0
            if sched is not None:
                sched.step()
            epoch_loss = total / max(count, 1)
            if not np.isfinite(epoch_loss):
                raise TrainingDiverged(f"training diverged: the loss became {epoch_loss} at epoch {epoch + 1}; "
                                       "badly scaled inputs (standardise them) or too high a learning rate "
                                       "(GenURL(lr=...)) do this")
            result.losses.append(epoch_loss)
            if self.progress is not None:
                self.progress(epoch + 1, self.epochs, epoch_loss)
            if epoch_loss < best * (1 - self.tol):
                best, since_best = epoch_loss, 0
            else:
                since_best += 1
                if self.patience and since_best >= self.patience and self.nu_end is None and not self.lr_decay:
                    result.stopped_early = True
                    break
        encoder.eval()
        result.seconds = time.perf_counter() - start
        return result
