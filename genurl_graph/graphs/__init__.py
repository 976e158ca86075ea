"""Graphs: every task's input becomes one :class:`Graph` (a CSR adjacency, ids, features).

Built from an edge-list file, a DGLGraph, a networkx graph, a scipy sparse adjacency or an
edge array; turned into a DGLGraph only where DGL is used (``Graph.to_dgl``).
"""

from .graph import Graph, as_graph, read_graph
from .knn import knn_graph

__all__ = ["Graph", "as_graph", "read_graph", "knn_graph"]
