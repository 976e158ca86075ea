"""``GenURL``: the scikit-learn-style estimator over the engine, one class for every task.

Each task (``genurl_graph.tasks.<task>``) only wires the parts: it builds the graph that carries
P_X and the encoder, then calls :meth:`GenURL._train`, the one training loop for all tasks.
"""
from __future__ import annotations

import importlib

import numpy as np
import torch

from .engine import Trainer
from .errors import InputError

TASKS = ("ge", "dr", "kd", "ssl")


def check_seed(seed) -> None:
    """A seed is an integer in 0..2^32-1 (what numpy's and torch's generators take)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"the seed (random_state) must be an integer in 0..4294967295, got {seed!r}")


def check_device(device) -> None:
    """A torch device that this machine has: cpu, cuda or cuda:N (when torch sees CUDA)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"unknown device {str(device)[:40]!r}: use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {str(device)!r} asked for, but torch sees no CUDA device")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {str(device)!r} asked for, but torch sees {torch.cuda.device_count()} "
                             "CUDA device(s)")
    elif dev.type != "cpu":
        raise InputError(f"device {str(device)!r} is not supported: use cpu, cuda or cuda:N")


class GenURL:
    """Learn embeddings Z whose similarity Q_Z keeps the input similarity P_X (GenURL).

    Parameters are stored as given (scikit-learn contract); ``fit`` sets ``embeddings_``,
    ``encoder_``, ``affinity_`` and ``history_``. Settings left at ``None``/``"auto"`` are chosen
    per task and from the data (each task module's ``DEFAULTS``).

    - ``task="ge"``: embed a graph (DGLGraph, networkx graph, scipy sparse adjacency, (E, 2)
      edge array or :class:`Graph`) with optional node ``features``
      (:mod:`genurl_graph.tasks.ge`). Without features the table starts in closed form
      (ProNE's factorisation and spectral propagation, edge weights included), which is the
      embedding up to 50k nodes (larger graphs train 2 epochs of a few large batches) unless
      ``epochs=N`` trains it N epochs over the graph's edges; ``walks_per_node > 0`` adds
      random-walk contexts (``walk_length``, ``window``) to P_X and starts from their PMI.
    - ``task="dr"``: reduce an (n, f) array through its kNN graph; a free embedding, or an MLP
      that transforms new points with ``parametric=True`` (:mod:`genurl_graph.tasks.dr`).
    - ``task="kd"``: teach a ``student`` encoder over inputs X the kNN graph of a ``teacher``
      embedding: ``fit(X, teacher=T)`` (:mod:`genurl_graph.tasks.kd`).
    - ``task="ssl"``: self-supervised learning of images: a CNN trained on the view graphs of
      augmented images (+ latent neighbours with ``refine``): ``fit(images)``, ``transform``
      (:mod:`genurl_graph.tasks.ssl`).

    ``refine=N`` (any task): every N epochs, P_X is rebuilt as the static P_X joined with the kNN
    graph of the current embedding (:class:`~genurl_graph.similarity.LatentKNN`).
    """

    def __init__(self, task: str = "ge", dim: int | None = None, encoder: str = "auto", epochs: int | None = None,
                 lr: float | None = None, nu: float | None = None, nu_end: float | None = None,
                 negatives: float | None = None, k: int | None = None, metric: str = "auto",
                 parametric: bool = False, student: str = "mlp", hops: int = 16, alpha: float = 0.1,
                 hidden: int | None = None, walks_per_node: int = 0, walk_length: int = 40, window: int = 5,
                 batch_size: int | None = None, patience: int = 30, refine: int = 0, random_state: int = 0,
                 device: str = "cpu",
                 backend: str = "auto", verbose: bool = False, progress=None):
        self.task, self.dim, self.encoder, self.epochs, self.lr = task, dim, encoder, epochs, lr
        self.nu, self.nu_end, self.negatives, self.k, self.metric = nu, nu_end, negatives, k, metric
        self.parametric, self.student, self.hops, self.alpha = parametric, student, hops, alpha
        self.hidden, self.walks_per_node, self.walk_length, self.window = hidden, walks_per_node, walk_length, window
        self.batch_size, self.patience, self.random_state = batch_size, patience, random_state
        self.refine = refine
        self.device, self.backend, self.verbose, self.progress = device, backend, verbose, progress

    def _check(self):
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}: available {', '.join(TASKS)}")
        if self.dim is not None and (not isinstance(self.dim, (int, np.integer)) or self.dim < 1):
            raise InputError(f"dim must be a positive integer, got {self.dim!r}")
        if self.epochs is not None and self.epochs < 0:
            raise InputError(f"epochs must be >= 0 (0: a structure-only graph's closed-form start, "
                             f"untrained), got {self.epochs!r}")
        if self.refine is not None and self.refine < 0:
            raise InputError(f"refine must be >= 0 (epochs between refreshes), got {self.refine!r}")
        if self.k is not None and self.k < (1 if self.task in ("dr", "kd") else 0):
            raise InputError(f"k must be >= {1 if self.task in ('dr', 'kd') else 0}, got {self.k!r}")
        if self.hidden is not None and self.hidden < 1:
            raise InputError(f"hidden must be at least 1, got {self.hidden!r}")
        check_seed(self.random_state)
        check_device(self.device)

    def _task(self):
        return importlib.import_module(f".tasks.{self.task}", __package__)

    def _progress(self):
        if self.progress is not None:
            return self.progress
        if self.verbose:
            return lambda e, total, loss: print(f"epoch {e}/{total} loss {loss:.4f}", flush=True)
        return None

    def fit(self, data, features=None, **kw) -> "GenURL":
        """Build P_X from ``data`` (a graph for GE, an array for DR/KD, images for SSL), train
        the encoder, store ``embeddings_``. Task extras: ``teacher=`` (KD), ``graph=`` (KD)."""
        self._check()
        task = self._task()
        with torch.random.fork_rng(devices=[]):  # seed init and dropout without touching the caller's RNG
            torch.manual_seed(self.random_state)
            task.fit(self, data, features=features, **kw)
        return self

    def fit_transform(self, data, features=None, **kw) -> np.ndarray:
        return self.fit(data, features, **kw).embeddings_

    def transform(self, data, features=None, **kw) -> np.ndarray:
        """Embed new nodes / points with the fitted encoder; needs an inductive encoder."""
        if not hasattr(self, "encoder_"):
            raise RuntimeError("call fit first")
        if not getattr(self.encoder_, "inductive", False):
            raise InputError(f"the {self.encoder_name_!r} encoder is transductive: it cannot embed new "
                             "data; fit an inductive encoder (ge: ppr, sgc, mlp, gcn; dr: parametric=True)")
        return self._task().transform(self, data, features=features, **kw)

    def save(self, path) -> None:
        """Write the fitted inductive encoder, its input scaling and these settings to one file
        that :meth:`load` (and ``genurl apply``) read back (:mod:`genurl_graph.persist`)."""
        from .persist import save

        save(self, path)

    @classmethod
    def load(cls, path, device: str = "cpu") -> "GenURL":
        """A fitted model from a file written by :meth:`save`; any other file is refused."""
        from .persist import load

        return load(path, device=device)

    # -- shared by the tasks -------------------------------------------------------------------
    def _setting(self, name: str, auto):
        """The user's value of a setting, or the task's automatic one when left at None."""
        value = getattr(self, name)
        return auto if value is None else value

    def _train(self, encoder: torch.nn.Module, inputs, affinity, num_nodes: int, auto,
               negative_weights=None):
        """The one training loop: the GKL loss of ``encoder(inputs)`` against ``affinity``'s
        P_X edges; ``auto`` holds the task's defaults (epochs, lr, nu, nu_end, negatives,
        batch_size, and optionally pool, optimizer, lr_decay, form) for settings the user left
        at None."""
        encoder.to(self.device)
        inputs = to_device(inputs, self.device)
        if self._setting("epochs", auto.epochs) == 0 and getattr(encoder, "_init", None) is not None:
            # keep the start as it is (a table started in closed form); else _trainer refuses 0
            from .engine.trainer import TrainResult

            self.history_ = TrainResult()
            self.encoder_, self.affinity_ = encoder, affinity
            return inputs
        trainer = self._trainer(auto)
        refresh = None
        if self.refine:  # dynamic P_X: the static one joined with the embedding's own kNN graph
            from .similarity import LatentKNN

            dynamic = LatentKNN(affinity, k=self._setting("k", getattr(auto, "k", 10)) or 10)
            refresh = lambda Z: dynamic.update(Z).edges()  # noqa: E731
        self.history_ = trainer.fit(encoder, inputs, affinity.edges(), num_nodes, negative_weights,
                                    refresh=refresh, refresh_every=self.refine)
        self.encoder_, self.affinity_ = encoder, (dynamic.affinity if self.refine else affinity)
        return inputs

    def _trainer(self, auto) -> Trainer:
        """The engine's trainer with the user's settings, the task's ``auto`` ones where left
        at None."""
        if self._setting("epochs", auto.epochs) == 0:
            raise InputError("epochs=0 keeps the encoder's start, and only a structure-only graph's "
                             "table has one (its closed-form spectral start): use epochs >= 1")
        return Trainer(epochs=self._setting("epochs", auto.epochs), lr=self._setting("lr", auto.lr),
                       nu=self._setting("nu", auto.nu),
                       nu_end=self.nu_end if self.nu_end is not None else getattr(auto, "nu_end", None),
                       negatives=self._setting("negatives", getattr(auto, "negatives", 5.0)),
                       batch_size=self._setting("batch_size", auto.batch_size), pool=getattr(auto, "pool", 128),
                       patience=self.patience, lr_decay=getattr(auto, "lr_decay", False),
                       optimizer=getattr(auto, "optimizer", "adam"), form=getattr(auto, "form", "fuzzy"),
                       seed=self.random_state, device=self.device, backend=self.backend,
                       progress=self._progress())

    def _embed(self, inputs) -> np.ndarray:
        self.encoder_.eval()
        with torch.no_grad():
            return self.encoder_(inputs).detach().cpu().numpy().astype(np.float32)


def to_device(inputs, device):
    if inputs is None:
        return None
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, tuple):
        return tuple(x.to(device) for x in inputs)
    return inputs
