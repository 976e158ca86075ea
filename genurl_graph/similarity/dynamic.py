"""Dynamic similarity: P_X refreshed from the current embedding during training.

:class:`LatentKNN` joins a static P_X (the data's, the graph's or the views') with the kNN graph
of the embedding Z as it is now (binary, weight ``weight``), by weighted fuzzy union. Each
:meth:`LatentKNN.update` recomputes Z's neighbours; only pairs that touch a point whose
neighbour set changed can change in P_X. Used by SSL (latent neighbours of instances) and as
``refine`` for every task, through :func:`refresh_hook`.
"""

from __future__ import annotations

import numpy as np

from ..graphs.knn import knn_graph
from .affinity import Affinity, combine
from .normalize import fuzzy_union, rows_to_csr


class LatentKNN:
    """P_X = static P_X (fuzzy union) ``weight`` x binary kNN graph of the current embedding."""

    def __init__(
        self,
        static: Affinity | None,
        k: int = 10,
        weight: float = 0.5,
        num_nodes: int | None = None,
    ):
        """``static=None`` (with ``num_nodes``): the latent kNN graph alone, as SSL uses it (its
        static P_X, the views, is drawn per batch)."""
        if not 0 < weight <= 1:
            raise ValueError(f"weight must be in (0, 1], got {weight}")
        if static is None and num_nodes is None:
            raise ValueError("give the static affinity or num_nodes")
        self.static, self.k, self.weight = static, k, weight
        self.neighbours: np.ndarray | None = None
        self.affinity: Affinity | None = static

    def update(self, Z) -> Affinity:
        """Recompute the kNN of ``Z`` (n, d) (kept, sorted, in ``neighbours``); returns the new
        P_X."""
        Z = np.asarray(Z, dtype=np.float32)
        idx, _ = knn_graph(Z, self.k, "euclidean")
        self.neighbours = idx = np.sort(idx, 1)
        latent = Affinity(fuzzy_union(rows_to_csr(idx, np.ones(idx.shape, np.float32), len(Z))))
        self.affinity = (
            combine((self.static, 1.0), (latent, self.weight))
            if self.static is not None
            else combine((latent, self.weight))
        )
        return self.affinity


def refresh_hook(latent: LatentKNN, every: int, embed, apply=None):
    """The ``refine`` hook of the trainer (:class:`~genurl_graph.engine.trainer.Trainer`): at
    the start of every ``every``-th epoch (not the first), ``latent.update(embed(encoder))``,
    then ``apply(new P_X)`` (e.g. a stream's ``set_edges``); returns whether P_X changed."""

    def hook(epoch: int, encoder) -> bool:
        if not every or not epoch or epoch % every:
            return False
        affinity = latent.update(embed(encoder))
        if apply is not None:
            apply(affinity)
        return True

    # the first epoch from ``epoch`` on at which it acts (the trainer's compiled runs end there)
    hook.next_at = lambda epoch: -(-max(epoch, 1) // every) * every if every else 1 << 62
    return hook
