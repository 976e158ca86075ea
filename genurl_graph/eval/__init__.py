"""Evaluation of embeddings: node classification (linear probe), link prediction, DR measures, OGB's
Evaluator on OGB's split (``ogb_evaluate``); pictures in :mod:`.plot`."""

from .dr import dr_metrics
from .links import evaluate_links, link_metrics, split_edges
from .nodes import linear_probe
from .ogb import ogb_evaluate

__all__ = [
    "dr_metrics",
    "linear_probe",
    "evaluate_links",
    "link_metrics",
    "split_edges",
    "ogb_evaluate",
]
