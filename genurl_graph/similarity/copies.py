"""P_X over copies of the nodes: views of a graph or dropout-masked copies, each linked to the
node it copies (graph self-supervision on the one engine, :mod:`genurl_graph.tasks.ge`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .affinity import Affinity


def with_view_edges(affinity, num_nodes: int, views: int, weight: float = 1.0):
    """P_X over the ``(views + 1) * num_nodes`` node copies: ``affinity`` on the originals
    (rows ``0..n-1``) joined with edges of P = ``weight`` between each node and its copy in
    every view (rows ``v * n + i``)."""
    n, total = num_nodes, (views + 1) * num_nodes
    P = affinity.P.tocoo()
    i = np.arange(n)
    rows = [P.row, *(np.concatenate([i, i + v * n]) for v in range(1, views + 1))]
    cols = [P.col, *(np.concatenate([i + v * n, i]) for v in range(1, views + 1))]
    vals = [P.data, *(np.full(2 * n, weight, np.float32) for _ in range(views))]
    return Affinity(
        sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(total, total),
        )
    )


def tiled_copies(affinity, num_nodes: int, copies: int, weight: float = 1.0):
    """P_X over ``copies`` copies of every node (rows ``c * num_nodes + i``): ``affinity`` inside
    each copy's block, and P = ``weight`` between every two copies of one node. With an encoder
    whose input dropout draws a fresh mask per row and step, the copies are feature-masked
    views drawn afresh every epoch, and the links ask them to agree (GE with features)."""
    n = num_nodes
    blocks = sp.block_diag([affinity.P] * copies, format="coo")
    i = np.arange(n)
    pairs = [(a, b) for a in range(copies) for b in range(copies) if a != b]
    rows = np.concatenate([blocks.row] + [i + a * n for a, _ in pairs])
    cols = np.concatenate([blocks.col] + [i + b * n for _, b in pairs])
    vals = np.concatenate([blocks.data] + [np.full(n, weight, np.float32) for _ in pairs])
    return Affinity(sp.csr_matrix((vals, (rows, cols)), shape=(copies * n, copies * n)))
