"""LDT, low-dimensional transformation: encoders f_theta mapping a graph's nodes to embeddings.

Each encoder has ``prepare(graph) -> inputs`` (done once, outside training) and
``forward(inputs) -> Z`` (n, dim). Inductive encoders embed new nodes by ``prepare`` on a new
graph; the table is transductive.
"""
from __future__ import annotations

from .cnn import CNN
from .models import (GCN, MLP, Propagated, Table, build_encoder, propagate, spectral_init,
                     spectral_layout)

__all__ = ["CNN", "GCN", "MLP", "Propagated", "Table", "build_encoder", "propagate", "spectral_init",
           "spectral_layout"]
