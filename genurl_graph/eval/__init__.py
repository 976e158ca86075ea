"""Evaluation of embeddings: node classification (linear probe) and link prediction."""
from .links import evaluate_links, link_metrics, split_edges
from .nodes import linear_probe

__all__ = ["linear_probe", "evaluate_links", "link_metrics", "split_edges"]
