"""GenURL graph embedding on DistDGL (DGL's distributed package): a graph's P_X and embedding
table split over several machines.

Two steps (docs/distributed.md):

1. :func:`partition` (``genurl partition``), on one machine: the structure-only P_X of
   :mod:`genurl_graph.tasks.ge` (the same P_X, spectral start and negative weights as
   ``genurl embed``), partitioned with METIS or at random by
   ``dgl.distributed.partition_graph``; writes DGL's partition config, the id map and the
   training settings.
2. :func:`embed` (``genurl embed-dist``), started on every machine by DGL's launcher
   (``tools/launch.py``): servers hold the partitions; trainers train the engine's GKL loss
   (:func:`genurl_graph.engine.loss.gkl_loss`) on their share of P_X edges, the table being a
   ``DistEmbedding`` updated by DGL's ``SparseAdam``; trainer 0 writes one embedding in the
   user's id order.
"""

from .parts import partition
from .train import embed

__all__ = ["partition", "embed"]
