"""``GenURL``: the scikit-learn-style estimator over the engine, one class for every task."""
from __future__ import annotations

import numpy as np
import torch

from .engine import Trainer
from .errors import InputError
from .graphs import Graph, as_graph

TASKS = ("ge",)


class GenURL:
    """Learn embeddings Z whose similarity Q_Z keeps the input similarity P_X (GenURL).

    Parameters are stored as given (scikit-learn contract); ``fit`` sets ``embeddings_``,
    ``encoder_``, ``affinity_`` and ``history_``. ``task="ge"`` embeds a graph: a DGLGraph,
    networkx graph, scipy sparse adjacency, (E, 2) edge array or :class:`Graph`, with optional
    node ``features``. ``dim``, ``encoder``, ``epochs``, ``lr``, ``nu`` and ``batch_size`` left
    at auto/None are chosen from the data: with features a PPR-propagated linear encoder (512-d,
    50 full-batch epochs, lr 5e-3, nu 1), without them a free table with a spectral start
    (128-d, 10 epochs of 16384-edge batches, lr 0.01, nu 10); see :mod:`genurl_graph.tasks.ge`.
    """

    def __init__(self, task: str = "ge", dim: int | None = None, encoder: str = "auto", epochs: int | None = None,
                 lr: float | None = None, nu: float | None = None, nu_end: float | None = None, negatives: float = 5.0,
                 k: int = 5, hops: int = 16, alpha: float = 0.1, hidden: int = 512, walks_per_node: int = 10,
                 walk_length: int = 40, window: int = 5, batch_size: int | None = None,
                 patience: int = 30, random_state: int = 0, device: str = "cpu", backend: str = "auto",
                 verbose: bool = False, progress=None):
        self.task, self.dim, self.encoder, self.epochs, self.lr = task, dim, encoder, epochs, lr
        self.nu, self.nu_end, self.negatives, self.k, self.hops = nu, nu_end, negatives, k, hops
        self.alpha = alpha
        self.hidden, self.walks_per_node, self.walk_length, self.window = hidden, walks_per_node, walk_length, window
        self.batch_size, self.patience, self.random_state = batch_size, patience, random_state
        self.device, self.backend, self.verbose, self.progress = device, backend, verbose, progress

    def _check(self):
        if self.task not in TASKS:
            raise InputError(f"unknown task {self.task!r}: available {', '.join(TASKS)}")
        if self.dim is not None and (not isinstance(self.dim, (int, np.integer)) or self.dim < 1):
            raise InputError(f"dim must be a positive integer, got {self.dim!r}")
        if self.epochs is not None and self.epochs < 1:
            raise InputError(f"epochs must be at least 1, got {self.epochs!r}")
        if str(self.device).startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {self.device!r} asked for, but torch sees no CUDA device")

    def _progress(self):
        if self.progress is not None:
            return self.progress
        if self.verbose:
            return lambda e, total, loss: print(f"epoch {e}/{total} loss {loss:.4f}", flush=True)
        return None

    def fit(self, graph, features=None) -> "GenURL":
        """Build P_X from ``graph`` (and ``features``), train the encoder, store ``embeddings_``."""
        from .tasks import ge

        self._check()
        graph = as_graph(graph, features)
        with torch.random.fork_rng(devices=[]):  # seed init and dropout without touching the caller's RNG
            torch.manual_seed(self.random_state)
            return self._fit(graph, ge)

    def _fit(self, graph: Graph, ge) -> "GenURL":
        self.encoder_name_, self.encoder_, inputs, self.affinity_, neg_w = ge.wire(
            graph, self.encoder, self.dim, self.k, self.hops, self.alpha, self.hidden, self.walks_per_node,
            self.walk_length, self.window, self.random_state)
        auto = ge.defaults(graph)
        self.encoder_.to(self.device)
        inputs = _to_device(inputs, self.device)
        lr = self.lr if self.lr is not None else (0.05 if self.encoder_name_ == "table" and
                                                  graph.features is not None else auto.lr)
        trainer = Trainer(epochs=self.epochs or auto.epochs, lr=lr, nu=self.nu or auto.nu, nu_end=self.nu_end,
                          negatives=self.negatives, batch_size=self.batch_size or auto.batch_size,
                          patience=self.patience, seed=self.random_state, device=self.device,
                          backend=self.backend, progress=self._progress())
        self.history_ = trainer.fit(self.encoder_, inputs, self.affinity_.edges(), graph.num_nodes, neg_w)
        self.graph_ = graph
        self.embeddings_ = self._embed(inputs)
        return self

    def _embed(self, inputs) -> np.ndarray:
        with torch.no_grad():
            return self.encoder_(inputs).detach().cpu().numpy().astype(np.float32)

    def fit_transform(self, graph, features=None) -> np.ndarray:
        return self.fit(graph, features).embeddings_

    def transform(self, graph, features=None) -> np.ndarray:
        """Embed the nodes of a (new) graph with the fitted encoder; needs an inductive encoder."""
        if not hasattr(self, "encoder_"):
            raise RuntimeError("call fit first")
        if not getattr(self.encoder_, "inductive", False):
            raise InputError(f"the {self.encoder_name_!r} encoder is transductive: it cannot embed new "
                             "nodes; fit with a feature encoder (ppr, sgc, mlp, gcn)")
        graph = as_graph(graph, features)
        return self._embed(_to_device(self.encoder_.prepare(graph), self.device))


def _to_device(inputs, device):
    if inputs is None:
        return None
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, tuple):
        return tuple(x.to(device) for x in inputs)
    return inputs
