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
    node ``features``. ``encoder``, ``epochs`` and ``lr`` left at auto/None are chosen from the
    data: with features a PPR-propagated linear encoder (50 epochs, lr 5e-3), without them a
    free table (200 epochs, lr 0.05); see :mod:`genurl_graph.tasks.ge`.
    """

    def __init__(self, task: str = "ge", dim: int = 512, encoder: str = "auto", epochs: int | None = None,
                 lr: float | None = None, nu: float = 1.0, nu_end: float | None = None, negatives: float = 5.0,
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
        if not isinstance(self.dim, (int, np.integer)) or self.dim < 1:
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
        torch.manual_seed(self.random_state)
        self.encoder_name_, self.encoder_ = ge.build(graph, self.encoder, self.dim, self.hops, self.alpha,
                                                     self.hidden)
        inputs = self.encoder_.prepare(graph)
        smoothed = inputs.numpy() if self.encoder_name_ == "ppr" else None  # reuse the propagation
        self.affinity_ = ge.ge_affinity(graph, self.k, self.hops, self.alpha, self.walks_per_node,
                                        self.walk_length, self.window, self.random_state, smoothed)
        auto = ge.defaults(graph)
        self.encoder_.to(self.device)
        inputs = _to_device(inputs, self.device)
        lr = self.lr if self.lr is not None else (0.05 if self.encoder_name_ == "table" else auto.lr)
        epochs = self.epochs if self.epochs is not None else auto.epochs
        trainer = Trainer(epochs=epochs, lr=lr, nu=self.nu, nu_end=self.nu_end,
                          negatives=self.negatives, batch_size=self.batch_size, patience=self.patience,
                          seed=self.random_state, device=self.device, backend=self.backend,
                          progress=self._progress())
        self.history_ = trainer.fit(self.encoder_, inputs, self.affinity_.edges(), graph.num_nodes)
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
