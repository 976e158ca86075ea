"""Evaluation of embeddings: node classification (linear probe), link prediction, DR measures."""
from .dr import dr_metrics
from .links import evaluate_links, link_metrics, split_edges
from .nodes import linear_probe

__all__ = ["dr_metrics", "linear_probe", "evaluate_links", "link_metrics", "split_edges"]
