"""DSM, data structural modelling: the input similarity P_X, held on the edges of a graph.

``P`` is a sparse (n x n) matrix in [0, 1]; the engine pulls along its non-zeros. Built from
feature neighbourhoods (:class:`FeatureAffinity`), graph structure (:class:`StructureAffinity`)
or both (:func:`combine`); see GENURL.md for the maths.
"""

from .affinity import Affinity, FeatureAffinity, StructureAffinity, combine, precomputed
from .dynamic import LatentKNN, refresh_hook
from .normalize import average, fuzzy_union, smooth_knn, t_kernel

__all__ = [
    "Affinity",
    "FeatureAffinity",
    "LatentKNN",
    "StructureAffinity",
    "average",
    "combine",
    "fuzzy_union",
    "precomputed",
    "refresh_hook",
    "smooth_knn",
    "t_kernel",
]
