"""The trainer: one loop for every task, over a stream of P_X edge batches with shared negatives.

A run's settings are one :class:`TrainConfig`; each task gives its defaults as one, and
:class:`~genurl_graph.GenURL` replaces the fields a user set. A *stream* yields the batches of
an epoch: :class:`EdgeStream` walks a fixed P_X (graph embedding, DR, KD); SSL's draws a view
graph per batch. *Hooks* run at the start of every epoch and may change P_X (the latent-kNN
refresh of ``refine``, :func:`~genurl_graph.similarity.dynamic.refresh_hook`); a hook that
returns True restarts the plateau test, since losses under a new P_X are not comparable. A hook
may say when it acts: ``hook.next_at(epoch)``, the first epoch from ``epoch`` on at which it
may; a free layout's compiled runs of epochs end there (without it: at every epoch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np
import torch

from ..errors import TrainingDiverged
from ..kernels import resolve_backend
from .loss import (
    FORMS,
    closed_form,
    compiled_step,
    decorrelation,
    free_sgd_epochs,
    free_sgd_step,
    gkl_loss,
    kernel_used,
    nu_schedule,
    release_buffers,
)

ProgressFn = Callable[[int, int, float], None]
Hook = Callable[[int, torch.nn.Module], bool]


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run.

    Each epoch visits every P_X edge once, in shuffled batches of ``batch_size`` edges (all at
    once when None); each batch draws a pool of ``pool`` nodes that every source in it is
    pushed from, weighted ``negatives`` per edge, so memory does not grow with the negatives.
    ``optimizer``: ``"adam"`` on the mean loss per edge, or ``"sgd"`` on the summed loss with
    each gradient entry clipped to ``clip`` (UMAP's per-edge steps, taken for all edges at once:
    the right tool for a free layout, where Adam's per-step bound slows the large moves).
    ``form``: the loss form (:func:`~genurl_graph.engine.loss.gkl_loss`). ``lr_decay``: the
    step size falls linearly to zero over the epochs; else a constant ``lr``. ``nu`` (nu_Z) may
    be raised towards ``nu_end`` during training. ``exaggeration``: the pull's P is multiplied by
    it for the first ``exaggerate_for`` fraction of the epochs (t-SNE's early exaggeration; the
    push keeps the unscaled P). Training stops early when the epoch loss has
    not improved by a relative ``tol`` for ``patience`` epochs (0: never; not with ``nu_end``
    or ``lr_decay``, whose losses are not comparable across epochs). ``decorrelate`` > 0 adds
    that multiple of :func:`~genurl_graph.engine.loss.decorrelation` of each batch's embedding
    (all its rows) to the loss (CCA-SSG's feature-decorrelation term; off by default).
    """

    epochs: int = 200
    lr: float = 1e-3
    nu: float = 1.0
    nu_end: float | None = None
    negatives: float = 5.0
    pool: int = 128
    batch_size: int | None = None
    patience: int = 30
    tol: float = 1e-4
    weight_decay: float = 0.0
    lr_decay: bool = False
    optimizer: str = "adam"
    clip: float = 4.0
    form: str = "fuzzy"
    decorrelate: float = 0.0
    exaggeration: float = 1.0
    exaggerate_for: float = 0.0

    def __post_init__(self):
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}: adam or sgd")
        if self.form not in FORMS:
            raise ValueError(f"unknown loss form {self.form!r}: {', '.join(FORMS)}")
        if self.epochs < 0:
            raise ValueError("epochs must be >= 0")
        if self.negatives < 0:
            raise ValueError("negatives must be >= 0")
        if self.decorrelate < 0:
            raise ValueError("decorrelate must be >= 0")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass
class TrainResult:
    """What a fit did: the loss of each epoch, whether it stopped on a plateau, wall seconds,
    and the kernel that computed the loss (``fused``: the closed-form low-dimensional losses)."""

    losses: list = field(default_factory=list)
    stopped_early: bool = False
    seconds: float = 0.0
    backend: str = ""


Batch = tuple  # (inputs, src, dst, p, pool): P_X edges among the rows of encoder(inputs), push rows


class Stream(Protocol):
    """The batches of one epoch; ``gen`` is the run's seeded generator, the only randomness."""

    def batches(self, epoch: int, gen: torch.Generator, config: TrainConfig) -> Iterator[Batch]: ...


class EdgeStream:
    """A P_X given as edges (src, dst, p) among ``num_nodes`` rows of ``encoder(inputs)``: each
    epoch shuffles the edges into batches; the push pool is drawn uniformly, or in proportion to
    ``negative_weights`` (n,) when given. :meth:`set_edges` replaces P_X (a refresh)."""

    def __init__(
        self,
        inputs,
        edges,
        num_nodes: int,
        negative_weights: np.ndarray | None = None,
        device="cpu",
    ):
        self.inputs, self.num_nodes, self.device = inputs, num_nodes, torch.device(device)
        self.neg_w = (
            None
            if negative_weights is None
            else torch.as_tensor(negative_weights, dtype=torch.float32, device=self.device)
        )
        self.set_edges(edges)

    def set_edges(self, edges) -> None:
        self.edges = tuple(torch.as_tensor(a).to(self.device) for a in edges)

    def batches(self, epoch: int, gen: torch.Generator, config: TrainConfig) -> Iterator[Batch]:
        src, dst, p = self.edges
        n_edges = len(src)
        batch = n_edges if not config.batch_size else min(config.batch_size, n_edges)
        order = (
            torch.randperm(n_edges, generator=gen, device=self.device) if batch < n_edges else None
        )
        for lo in range(0, n_edges, batch):
            idx = order[lo : lo + batch] if order is not None else slice(None)
            pool = (
                torch.randint(0, self.num_nodes, (config.pool,), generator=gen, device=self.device)
                if self.neg_w is None
                else torch.multinomial(self.neg_w, config.pool, replacement=True, generator=gen)
            )
            yield self.inputs, src[idx], dst[idx], p[idx], pool

    def full_batch(self, config: TrainConfig) -> bool:
        """Whether an epoch is one batch of every edge (no shuffle)."""
        return not config.batch_size or config.batch_size >= len(self.edges[0])

    def pools(self, count: int, gen: torch.Generator, config: TrainConfig) -> torch.Tensor:
        """The pools of ``count`` full-batch epochs, (count, pool): the same draws, in the
        same order, as that many epochs of :meth:`batches`."""
        if self.neg_w is None:
            shape = (count, config.pool)
            return torch.randint(0, self.num_nodes, shape, generator=gen, device=self.device)
        return torch.stack(
            [
                torch.multinomial(self.neg_w, config.pool, replacement=True, generator=gen)
                for _ in range(count)
            ]
        )


class Trainer:
    """Minimise the GKL loss of an encoder's embeddings against the P_X of a stream.

    ``Trainer(config)`` or ``Trainer(epochs=..., lr=...)`` (fields of :class:`TrainConfig`);
    all randomness comes from ``seed``."""

    def __init__(
        self,
        config: TrainConfig | None = None,
        *,
        seed: int = 0,
        device: str = "cpu",
        backend: str = "auto",
        progress: ProgressFn | None = None,
        **settings,
    ):
        self.config = replace(config or TrainConfig(), **settings)
        if self.config.epochs < 1:
            raise ValueError("epochs must be at least 1")
        self.seed, self.device, self.backend, self.progress = seed, device, backend, progress

    def fit(
        self, encoder: torch.nn.Module, stream: Stream, hooks: Sequence[Hook] = ()
    ) -> TrainResult:
        """Train ``encoder`` on ``stream``'s batches; ``hooks(epoch, encoder)`` run at the start
        of every epoch (True: P_X changed)."""
        cfg = self.config
        device = torch.device(self.device)
        # an unknown or unavailable backend fails here; "auto" is resolved at the first batch
        # that needs an edge kernel (a closed-form loss needs none, nor DGL's 0.3 s import)
        backend = self.backend if self.backend == "auto" else resolve_backend(self.backend, device)
        gen = torch.Generator(device=device).manual_seed(self.seed)
        params = [prm for prm in encoder.parameters() if prm.requires_grad]
        adam = cfg.optimizer == "adam"
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay) if adam else None
        # plain SGD on one parameter with no other term: a free table may skip autograd
        free = not adam and not cfg.decorrelate and not cfg.weight_decay and len(params) == 1
        result = TrainResult()
        watch = _Watch(cfg, result, self.progress)
        start = time.perf_counter()
        encoder.train()
        if not (free and self._fit_compiled(encoder, stream, hooks, gen, watch, params[0])):
            self._fit_epochs(encoder, stream, hooks, gen, watch, params, opt, free, backend)
        encoder.eval()
        release_buffers()
        result.seconds = time.perf_counter() - start
        return result

    def _fit_epochs(self, encoder, stream, hooks, gen, watch, params, opt, free, backend) -> None:
        """Any encoder and stream: one epoch at a time, batch by batch."""
        cfg, result, device = self.config, watch.result, torch.device(self.device)
        adam = opt is not None
        for epoch in range(cfg.epochs):
            new_p = any([hook(epoch, encoder) for hook in hooks])  # every hook runs
            # the step size for Adam and for the plain SGD below (torch.optim.SGD's arithmetic
            # in place, without its per-step overhead, a third of a small layout's epoch)
            nu, attraction, step = self._schedule(epoch)
            total, count = 0.0, 0
            if adam:
                for group in opt.param_groups:
                    group["lr"] = step
            for inputs, s, d, w, pool in stream.batches(epoch, gen, cfg):
                z = encoder(inputs)
                closed = closed_form(cfg.form, z.shape[1])
                if backend == "auto" and closed is None:
                    backend = resolve_backend(backend, device)
                if not result.backend:
                    result.backend = kernel_used(cfg.form, z.shape[1], backend, z.device, z.dtype)
                if closed is not None and free and z is params[0]:
                    # a free table's rows are z: the closed-form gradient is the SGD step's own,
                    # no autograd graph
                    with torch.no_grad():
                        total += free_sgd_step(
                            cfg.form, z, s, d, w, pool, nu, cfg.negatives, attraction, step,
                            cfg.clip,
                        )  # fmt: skip
                    count += len(s)
                    continue
                loss = gkl_loss(z, s, d, w, pool, nu, cfg.negatives, backend, cfg.form, attraction)
                if cfg.decorrelate:
                    loss = loss + cfg.decorrelate * decorrelation(z)
                if adam:
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                else:
                    for prm in params:
                        prm.grad = None
                    (loss * len(s)).backward()
                    with torch.no_grad():
                        for prm in params:
                            grad = prm.grad.clamp_(-cfg.clip, cfg.clip)
                            if cfg.weight_decay:
                                grad = grad.add(prm, alpha=cfg.weight_decay)
                            prm.add_(grad, alpha=-step)
                total += loss.item() * len(s)
                count += len(s)
            if watch.end(epoch, total / max(count, 1), new_p):
                break

    def _fit_compiled(self, encoder, stream, hooks, gen, watch, param) -> bool:
        """A free table's layout where its form runs compiled on a full-batch
        :class:`EdgeStream`: the epochs in runs of one compiled call each (up to ``RUN_EPOCHS``,
        and ending where a hook may act), the same steps and bits as one epoch at a time
        without the Python between them. False (nothing done) where it does not apply."""
        cfg = self.config
        if not isinstance(stream, EdgeStream) or not stream.full_batch(cfg):
            return False
        z = encoder(stream.inputs)
        if z is not param or closed_form(cfg.form, z.shape[1]) is None:
            return False
        if not compiled_step(cfg.form, z):
            return False
        watch.result.backend = kernel_used(cfg.form, z.shape[1], self.backend, z.device, z.dtype)
        # a plateau may stop training after any epoch: then one epoch a run
        one = bool(cfg.patience and cfg.nu_end is None and not cfg.lr_decay)
        epoch = 0
        while epoch < cfg.epochs:
            new_p = any([hook(epoch, encoder) for hook in hooks])  # every hook runs
            end = min(cfg.epochs, epoch + (1 if one else RUN_EPOCHS))
            for hook in hooks:  # a hook without next_at may act at every epoch
                end = min(end, getattr(hook, "next_at", lambda e: e)(epoch + 1))
            src, dst, p = stream.edges
            table = np.array([self._schedule(e) for e in range(epoch, end)], dtype=np.float64)
            with torch.no_grad():
                losses = free_sgd_epochs(
                    z, src, dst, p, stream.pools(end - epoch, gen, cfg), table, cfg.negatives,
                    cfg.clip,
                )  # fmt: skip
            for e in range(epoch, end):
                if watch.end(e, losses[e - epoch] / max(len(src), 1), new_p and e == epoch):
                    return True
            epoch = end
        return True

    def _schedule(self, epoch: int) -> tuple[float, float, float]:
        """(nu, attraction, step size) of ``epoch``: the step falls linearly to 0 with
        ``lr_decay`` (else constant ``lr``)."""
        cfg = self.config
        nu = nu_schedule(cfg.nu, cfg.nu_end, epoch, cfg.epochs)
        attraction = cfg.exaggeration if epoch < cfg.exaggerate_for * cfg.epochs else 1.0
        step = cfg.lr * (max(1.0 - epoch / cfg.epochs, 0.0) if cfg.lr_decay else 1.0)
        return nu, attraction, step


RUN_EPOCHS = 25  # a compiled run's most epochs (a progress update each run)


class _Watch:
    """What every epoch ends with: its loss recorded (TrainingDiverged when not finite), the
    progress reported, and the plateau test (True: stop)."""

    def __init__(self, cfg: TrainConfig, result: TrainResult, progress: ProgressFn | None):
        self.cfg, self.result, self.progress = cfg, result, progress
        self.best, self.since_best = float("inf"), 0

    def end(self, epoch: int, epoch_loss: float, new_p: bool) -> bool:
        cfg = self.cfg
        if new_p:
            self.best, self.since_best = float("inf"), 0
        if not np.isfinite(epoch_loss):
            raise TrainingDiverged(
                f"training diverged: the loss became {epoch_loss} at epoch {epoch + 1}; "
                "badly scaled inputs (standardise them) or too high a learning rate "
                "(GenURL(lr=...)) do this"
            )
        self.result.losses.append(epoch_loss)
        if self.progress is not None:
            self.progress(epoch + 1, cfg.epochs, epoch_loss)
        if epoch_loss < self.best * (1 - cfg.tol):
            self.best, self.since_best = epoch_loss, 0
            return False
        self.since_best += 1
        plateau_ok = cfg.nu_end is None and not cfg.lr_decay
        if cfg.patience and self.since_best >= cfg.patience and plateau_ok:
            self.result.stopped_early = True
            return True
        return False
