"""Node classification by a linear probe: logistic regression on frozen, L2-normalised embeddings.

Multi-class: accuracy, macro- and micro-F1. Multi-label (a node may have several labels):
one-vs-rest, each node predicted its true number of top-scoring labels (DeepWalk's protocol),
macro/micro-F1 and the mean auROC over labels. The regularisation C is chosen on the validation
nodes only. The public split is used when given; otherwise stratified random splits, one per seed.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError

DEFAULT_CS = (0.01, 0.1, 1.0, 10.0, 100.0)


def _normalise(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def _random_split(y: np.ndarray, train_ratio: float, val_ratio: float, rng: np.random.Generator):
    """Stratified (by the first label, for multi-label) train/val/test positions."""
    key = y if y.ndim == 1 else y.argmax(1)
    train, val, test = [], [], []
    for c in np.unique(key):
        idx = rng.permutation(np.flatnonzero(key == c))
        a = max(1, int(round(train_ratio * len(idx))))
        b = a + int(round(val_ratio * len(idx)))
        train.append(idx[:a]), val.append(idx[a:b]), test.append(idx[b:])
    return tuple(np.concatenate(part) for part in (train, val, test))


def _fit_predict(Z, y, train, evaluate, C, multilabel, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    clf = LogisticRegression(C=C, max_iter=2000, random_state=seed)
    if multilabel:
        clf = OneVsRestClassifier(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(Z[train], y[train])
    return {
        name: clf.decision_function(Z[idx]) if multilabel else clf.predict(Z[idx])
        for name, idx in evaluate.items()
    }


def _scores(y_true, out, multilabel) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    if not multilabel:
        return {
            "accuracy": float((out == y_true).mean()),
            "macro_f1": float(f1_score(y_true, out, average="macro")),
            "micro_f1": float(f1_score(y_true, out, average="micro")),
        }
    # each node gets as many labels as it truly has, the top-scoring ones
    k = y_true.sum(1)
    ranks = np.argsort(-out, axis=1)
    pred = np.zeros_like(y_true)
    for j in range(out.shape[1]):
        rows = np.flatnonzero(k > j)
        pred[rows, ranks[rows, j]] = 1
    present = (y_true.sum(0) > 0) & (y_true.sum(0) < len(y_true))
    auroc = [roc_auc_score(y_true[:, c], out[:, c]) for c in np.flatnonzero(present)]
    return {
        "macro_f1": float(f1_score(y_true, pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y_true, pred, average="micro", zero_division=0)),
        "auroc": float(np.mean(auroc)),
    }


def _check_probe(Z, y, split, seeds, train_ratio, val_ratio) -> None:
    """Refuse a probe whose numbers would mean nothing (one class, empty or overlapping parts)."""
    if Z.ndim != 2 or len(Z) != len(y):
        raise InputError(f"embeddings of shape {Z.shape} for {len(y)} labels")
    if not np.isfinite(Z).all():
        raise InputError("the embeddings contain NaN or inf")
    if isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1:
        raise InputError(f"seeds must be at least 1, got {seeds!r}")
    if y.ndim == 1 and len(np.unique(y)) < 2:
        raise InputError(
            f"the labels hold one class only ({len(y)} nodes): a probe needs at least two"
        )
    if y.ndim == 2 and (y.sum(0) > 0).sum() < 2:
        raise InputError("the labels hold one class only: a probe needs at least two")
    if split is None:
        if not 0 < train_ratio < 1:
            raise InputError(f"the train ratio must be in (0, 1), got {train_ratio:g}")
        if not 0 <= val_ratio < 1 or train_ratio + val_ratio >= 1:
            raise InputError(
                f"train ratio {train_ratio:g} + validation ratio {val_ratio:g} leave no test nodes"
            )
        return
    parts = {k: np.asarray(split[k], dtype=np.int64) for k in ("train", "val", "test")}
    for k, idx in parts.items():
        if len(idx) and (idx.min() < 0 or idx.max() >= len(y)):
            raise InputError(f"the split's {k} part points outside the {len(y)} labelled rows")
        if len(np.unique(idx)) != len(idx):
            raise InputError(f"the split's {k} part lists a node twice")
    if not len(parts["train"]) or not len(parts["test"]):
        raise InputError("the split needs at least one train and one test node")
    for a, b in (("train", "test"), ("train", "val"), ("val", "test")):
        both = np.intersect1d(parts[a], parts[b])
        if len(both):
            raise InputError(
                f"the split's {a} and {b} parts share {len(both)} nodes: they must be disjoint"
            )


def linear_probe(
    Z: np.ndarray,
    y: np.ndarray,
    split: dict | None = None,
    seeds: int = 5,
    train_ratio: float = 0.5,
    val_ratio: float = 0.1,
    Cs=DEFAULT_CS,
) -> dict:
    """Probe ``Z`` (n, d) with labels ``y`` ((n,) class ids, or (n, c) multi-hot) over ``seeds``.

    ``split`` maps train/val/test to row positions (the public split); without it each seed
    draws a stratified split of ``train_ratio`` / ``val_ratio`` / rest. Returns per-metric mean
    and std, the chosen C, and the per-seed values.
    """
    Z = np.asarray(Z)
    y = np.asarray(y)
    _check_probe(Z, y, split, seeds, train_ratio, val_ratio)
    Z = _normalise(Z)
    multilabel = y.ndim == 2
    main = "macro_f1" if multilabel else "accuracy"
    runs, chosen = [], []
    C_fixed = None
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        if split is not None:
            train, val, test = (np.asarray(split[k]) for k in ("train", "val", "test"))
        else:
            train, val, test = _random_split(y, train_ratio, val_ratio, rng)
        if len(test) == 0:
            raise InputError(
                f"no test nodes: {len(y)} labelled nodes are too few for a "
                f"{train_ratio:g}/{val_ratio:g}/rest split"
            )
        if len(np.unique(y[train] if y.ndim == 1 else y[train].argmax(1))) < 2 and not multilabel:
            raise InputError("the training nodes hold one class only: a probe needs at least two")
        if C_fixed is None and len(val) == 0:
            C_fixed = 1.0  # no validation nodes to choose C on: the default of scikit-learn
        if C_fixed is None:  # C chosen on the first seed's validation nodes, then kept
            best = None
            for C in Cs:
                out = _fit_predict(Z, y, train, {"val": val}, C, multilabel, seed)["val"]
                score = _scores(y[val], out, multilabel)[main]
                if best is None or score > best[0]:
                    best = (score, C)
            C_fixed = best[1]
        out = _fit_predict(Z, y, train, {"test": test}, C_fixed, multilabel, seed)["test"]
        runs.append(_scores(y[test], out, multilabel))
        chosen.append(C_fixed)
        if split is not None and not multilabel:
            # lbfgs on a fixed split is deterministic: further seeds would repeat this run
            runs = runs * seeds
            break
    metrics = {
        m: {
            "mean": float(np.mean([r[m] for r in runs])),
            "std": float(np.std([r[m] for r in runs])),
        }
        for m in runs[0]
    }
    return {
        "task": "multilabel" if multilabel else "multiclass",
        "split": "public" if split else f"random {train_ratio:g}/{val_ratio:g}/rest",
        "seeds": seeds,
        "C": C_fixed,
        "metrics": metrics,
        "runs": runs,
    }
