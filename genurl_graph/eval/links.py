"""Link prediction: hold out edges, embed the rest, score held-out pairs against non-edges.

Metrics: AUC and AP (scikit-learn) and Hits@K by ``ogb.linkproppred.Evaluator``. A pair's score
is the embedding similarity: -||z_u - z_v||^2 (what Q_Z ranks by), the dot product or the cosine,
whichever does best on the validation pairs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..graphs import Graph

SCORES = ("neg_sqdist", "dot", "cosine")


def _sample_non_edges(adj: sp.csr_matrix, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` distinct unordered node pairs that are not edges of ``adj`` (nor self-pairs)."""
    n = adj.shape[0]
    taken = set()
    out = []
    while len(out) < count:
        cand = rng.integers(0, n, size=(2 * (count - len(out)) + 16, 2))
        cand = cand[cand[:, 0] != cand[:, 1]]
        hit = np.asarray(adj[cand[:, 0], cand[:, 1]]).ravel() != 0
        for u, v in cand[~hit]:
            key = (min(u, v), max(u, v))
            if key not in taken:
                taken.add(key)
                out.append(key)
                if len(out) == count:
                    break
    return np.array(out, dtype=np.int64)


def split_edges(graph: Graph, val: float = 0.05, test: float = 0.1, seed: int = 0):
    """Hold out ``val`` and ``test`` fractions of the undirected edges, with as many non-edges.

    Returns the training graph (all nodes, the remaining edges) and
    ``{"val": (pos, neg), "test": (pos, neg)}``, each an (m, 2) array of node pairs.
    """
    if not (0 <= val < 1 and 0 < test < 1 and val + test < 1):
        raise InputError(
            f"held-out fractions must satisfy 0 <= val, 0 < test, val + test < 1; got val {val:g}, "
            f"test {test:g}"
        )
    rng = np.random.default_rng(seed)
    sym = graph.symmetric()
    upper = sp.triu(sym, k=1).tocoo()
    pairs = np.stack([upper.row, upper.col], 1).astype(np.int64)
    perm = rng.permutation(len(pairs))
    n_val, n_test = int(round(val * len(pairs))), int(round(test * len(pairs)))
    n = sym.shape[0]
    if n_test < 1 or (val > 0 and n_val < 1) or len(pairs) - n_val - n_test < 1:
        raise InputError(
            f"{len(pairs)} edges are too few to hold out {val:g} and {test:g} of them (each part "
            "needs at least one edge, and training one more)",
            graph.source,
        )
    if n * (n - 1) // 2 - len(pairs) < n_val + n_test:
        raise InputError(
            f"the graph is too dense: {n * (n - 1) // 2 - len(pairs)} node pairs are not edges, "
            f"{n_val + n_test} are needed as negatives",
            graph.source,
        )
    val_pos, test_pos = pairs[perm[:n_val]], pairs[perm[n_val : n_val + n_test]]
    train = pairs[perm[n_val + n_test :]]
    neg = _sample_non_edges(sym, n_val + n_test, rng)
    w = np.asarray(sym[train[:, 0], train[:, 1]]).ravel()
    adj = sp.coo_matrix(
        (
            np.concatenate([w, w]),
            (
                np.concatenate([train[:, 0], train[:, 1]]),
                np.concatenate([train[:, 1], train[:, 0]]),
            ),
        ),
        shape=sym.shape,
    ).tocsr()
    train_graph = Graph(adj, graph.ids, graph.features, False, graph.source)
    return train_graph, {"val": (val_pos, neg[:n_val]), "test": (test_pos, neg[n_val:])}


def score_pairs(Z: np.ndarray, pairs: np.ndarray, how: str) -> np.ndarray:
    a, b = Z[pairs[:, 0]], Z[pairs[:, 1]]
    if how == "neg_sqdist":
        return -((a - b) ** 2).sum(1)
    if how == "dot":
        return (a * b).sum(1)
    if how == "cosine":
        return (a * b).sum(1) / np.maximum(
            np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12
        )
    raise ValueError(f"unknown score {how!r}: choose from {', '.join(SCORES)}")


def link_metrics(pos: np.ndarray, neg: np.ndarray, hits_at=(10, 50, 100)) -> dict:
    """AUC, AP, and Hits@K (the fraction of positives scored above the K-th best negative)."""
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score

    from ..datasets import import_ogb

    Evaluator = import_ogb("ogb.linkproppred").Evaluator  # without ogb's online version check

    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    s = np.concatenate([pos, neg])
    out = {"auc": float(roc_auc_score(y, s)), "ap": float(average_precision_score(y, s))}
    evaluator = Evaluator(name="ogbl-collab")
    for k in hits_at:
        evaluator.K = k
        res = evaluator.eval(
            {
                "y_pred_pos": torch.as_tensor(pos, dtype=torch.float64),
                "y_pred_neg": torch.as_tensor(neg, dtype=torch.float64),
            }
        )
        out[f"hits@{k}"] = float(res[f"hits@{k}"])
    return out


def evaluate_links(
    graph: Graph,
    embed: Callable[[Graph, int], np.ndarray],
    seeds: int = 1,
    val: float = 0.05,
    test: float = 0.1,
) -> dict:
    """Split, embed the training graph with ``embed(train_graph, seed)``, score; over ``seeds``."""
    if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
        raise InputError(f"seeds must be at least 1, got {seeds!r}")
    runs = []
    for seed in range(seeds):
        train_graph, held = split_edges(graph, val, test, seed)
        Z = embed(train_graph, seed)
        if not np.isfinite(Z).all():
            raise InputError("the embedding of the training graph contains NaN or inf")
        best = (
            SCORES[0]
            if not len(held["val"][0])
            else max(
                SCORES,
                key=lambda how: link_metrics(
                    score_pairs(Z, held["val"][0], how), score_pairs(Z, held["val"][1], how), ()
                )["auc"],
            )
        )
        result = link_metrics(
            score_pairs(Z, held["test"][0], best), score_pairs(Z, held["test"][1], best)
        )
        result["score"] = best
        runs.append(result)
    metrics = {
        m: {
            "mean": float(np.mean([r[m] for r in runs])),
            "std": float(np.std([r[m] for r in runs])),
        }
        for m in runs[0]
        if m != "score"
    }
    return {
        "split": f"{1 - val - test:g}/{val:g}/{test:g}",
        "seeds": seeds,
        "metrics": metrics,
        "runs": runs,
    }
