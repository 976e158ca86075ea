"""Embeddings measured in OGB's own terms: its official split and its ``Evaluator``.

Node sets: the linear probe's classifier (L2-normalised rows, logistic regression, one-vs-rest for
multi-task sets) trained on OGB's train nodes, C chosen on its valid nodes by OGB's metric, then
``ogb.nodeproppred.Evaluator(name)`` on valid and test (accuracy for ogbn-arxiv/products, ROC-AUC
for ogbn-proteins). Link sets: each held-out pair scored by embedding similarity (the score of
:mod:`.links` that does best on OGB's valid edges), then ``ogb.linkproppred.Evaluator(name)`` on
OGB's positive and negative valid and test edges (Hits@50 for ogbl-collab, Hits@20 for ogbl-ddi,
MRR for ogbl-citation2, ...).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .links import SCORES, score_pairs
from .nodes import DEFAULT_CS, _fit_predict, _normalise


def _evaluator(data):
    from ..datasets import import_ogb

    kind = "nodeproppred" if data.task == "nodes" else "linkproppred"
    return import_ogb(f"ogb.{kind}").Evaluator(
        name=data.name
    ), f"ogb.{kind}.Evaluator({data.name!r})"


def _node_eval(evaluator, metric, y, out):
    y_true = y.reshape(len(y), -1)
    return float(evaluator.eval({"y_true": y_true, "y_pred": out.reshape(y_true.shape)})[metric])


def _link_eval(evaluator, metric, pos, neg):
    import torch

    res = evaluator.eval({"y_pred_pos": torch.as_tensor(pos), "y_pred_neg": torch.as_tensor(neg)})
    value = res["mrr_list"] if metric == "mrr" else res[metric]
    return float(value.float().mean()) if isinstance(value, torch.Tensor) else float(value)


def _pairs(part: dict):
    """(positive pairs (m, 2), negative pairs (k, 2) or (m, K, 2)) from one OGB edge split."""
    if "source_node" in part:  # ogbl-citation2: each source's K negative targets
        src, dst, neg = part["source_node"], part["target_node"], part["target_node_neg"]
        negs = np.stack([np.repeat(src[:, None], neg.shape[1], 1), neg], -1)
        return np.stack([src, dst], 1), negs
    if "edge_neg" not in part:
        raise InputError(
            "OGB's split has no negative edges for this part (keys: "
            f"{', '.join(part)}); its evaluator needs them"
        )
    return part["edge"], part["edge_neg"]


def _scores(Z, pairs, how):
    return score_pairs(Z, pairs.reshape(-1, 2), how).reshape(pairs.shape[:-1])


def ogb_evaluate(Z: np.ndarray, data) -> dict:
    """Evaluate ``Z`` (one row per OGB node id) on the OGB set ``data`` (from
    ``datasets.load("ogbn-..."/"ogbl-...")``) with OGB's split and ``Evaluator``.

    Returns the project's result dict: ``metrics`` holds ``valid_<metric>`` and ``test_<metric>``
    (mean and std; one run, so std 0), plus the evaluator, the metric and the chosen C or score."""
    if data.metric is None:
        raise InputError(
            f"{data.name} is not an OGB data set: evaluate it with linear_probe or evaluate_links"
        )
    Z = np.asarray(Z)
    if Z.ndim != 2 or len(Z) != data.graph.num_nodes:
        raise InputError(
            f"{data.name} has {data.graph.num_nodes} nodes; the embedding has shape {Z.shape}"
        )
    evaluator, which = _evaluator(data)
    metric = data.metric
    result = {
        "dataset": data.name,
        "task": data.task,
        "evaluator": which,
        "metric": metric,
        "split": "ogb official",
        "seeds": 1,
    }
    if data.task == "nodes":
        Zn, y = _normalise(Z), np.asarray(data.labels)
        multilabel = y.ndim == 2
        train, val, test = (np.asarray(data.split[k]) for k in ("train", "val", "test"))
        best = None
        for C in DEFAULT_CS:
            out = _fit_predict(Zn, y, train, {"val": val}, C, multilabel, 0)["val"]
            score = _node_eval(evaluator, metric, y[val], out)
            if best is None or score > best[0]:
                best = (score, C)
        out = _fit_predict(Zn, y, train, {"valid": val, "test": test}, best[1], multilabel, 0)
        values = {
            part: _node_eval(evaluator, metric, y[idx], out[part])
            for part, idx in (("valid", val), ("test", test))
        }
        result["C"] = best[1]
    else:
        val_pos, val_neg = _pairs(data.split["val"])
        test_pos, test_neg = _pairs(data.split["test"])
        how = max(
            SCORES,
            key=lambda h: _link_eval(
                evaluator, metric, _scores(Z, val_pos, h), _scores(Z, val_neg, h)
            ),
        )
        values = {
            "valid": _link_eval(
                evaluator, metric, _scores(Z, val_pos, how), _scores(Z, val_neg, how)
            ),
            "test": _link_eval(
                evaluator, metric, _scores(Z, test_pos, how), _scores(Z, test_neg, how)
            ),
        }
        result["score"] = how
    result["metrics"] = {f"{part}_{metric}": {"mean": v, "std": 0.0} for part, v in values.items()}
    return result
