"""Structure-only graph embedding beside ProNE and node2vec, side by side in one run.

    python benchmarks/structure.py                        # PPI, BlogCatalog, DBLP, weighted SBM; 5
    seeds
    python benchmarks/structure.py --only ppi --seeds 2 --link-seeds 1

For each graph, every method embeds the edge-list file (128-d) and is timed from file to
embedding, each after a warm-up on a small graph (numba compilation is not timed), on the same
cores:
- genurl: ``read_graph`` + ``GenURL(random_state=seed)`` with the defaults, in this process
  (the closed-form start; above 50k nodes trained 2 epochs of a few large batches); the row
  ``genurl 2 ep`` (or ``0 ep`` where the default trains) is the other choice, to show what the
  engine's training adds;
- ProNE: the ``nodevectors`` package, default settings but the dimension, in .venv-prone
  (it needs networkx<3); run once per seed;
- node2vec: ``pecanpy`` (p = q = 1, its fastest mode, all cores, random_state 0), in
  .venv-pecanpy (numpy<2); one run (its word2vec is not reproducible on several workers).
Node classification: one-vs-rest logistic regression (C = 1) on L2-normalised embeddings, 50 %
train, a stratified split per seed; each run is probed on the split of its seed (node2vec's one
embedding on every seed's split); macro-F1, micro-F1 and the mean auROC over labels. Link
prediction: 85/5/10 edge split per seed, genurl and ProNE embed the training graph.
DBLP's labels are its 60 communities (each node in one), probed one-vs-rest like the others.
The weighted graph is an SBM whose topology is uniform (every pair equally likely) and whose
within-community edges weigh 10: only the weights carry the communities.
Prints a table and writes benchmarks/results/structure.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds scripts named like standard modules (ssl.py): keep this folder off the import
# path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("GENURL_SHARED_DATA", ROOT.parent / "shared" / "data"))
PRONE = ROOT / ".venv-prone" / "bin" / "python"
PECANPY = ROOT / ".venv-pecanpy" / "bin" / "python"
PEERS = ROOT / "benchmarks" / "peers"

from genurl_graph import GenURL, read_graph  # noqa: E402
from genurl_graph.eval import evaluate_links  # noqa: E402
from genurl_graph.tasks.ge import defaults as ge_defaults  # noqa: E402
from genurl_graph.eval.nodes import _fit_predict, _random_split, _scores  # noqa: E402


def weighted_sbm(
    path: Path, n: int = 4000, blocks: int = 8, degree: float = 20, heavy: float = 10.0
):
    """Write the weight-only SBM's edge list (u v w) and return its labels file's path."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, blocks, n)
    m = int(n * degree / 2)
    u, v = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = u != v
    u, v = u[keep], v[keep]
    w = np.where(y[u] == y[v], heavy, 1.0)
    np.savetxt(path, np.c_[u, v, w], fmt=["%d", "%d", "%g"], delimiter="\t")
    labels = path.with_suffix(".labels.tsv")
    np.savetxt(labels, np.c_[np.arange(n), y], fmt="%d", delimiter="\t")
    return labels


def graphs(work: Path, only):
    out = {}
    n2v = SHARED / "node2vec-graphs"
    if "ppi" in only:
        out["ppi"] = (n2v / "PPI.edg", n2v / "PPI.labels.tsv", False)
    if "blogcatalog" in only:
        out["blogcatalog"] = (n2v / "BlogCatalog.edg", n2v / "BlogCatalog.labels.tsv", False)
    if "dblp" in only:
        labels = work / "dblp.labels.tsv"
        with open(SHARED / "prone-graphs" / "dblp.cmty") as src, open(labels, "w") as dst:
            for c, line in enumerate(x for x in src if x.strip()):
                dst.writelines(f"{u}\t{c}\n" for u in line.split())
        out["dblp"] = (SHARED / "prone-graphs" / "dblp.ungraph", labels, False)
    if "weighted" in only:
        edges = work / "weighted_sbm.edg"
        out["weighted"] = (edges, weighted_sbm(edges), True)
    return out


def multi_hot(labels_path: Path, ids: np.ndarray):
    """(rows, Y): the embedding rows that have labels and their multi-hot label matrix."""
    pos = {str(v): i for i, v in enumerate(ids)}
    pairs = [
        line.split() for line in open(labels_path) if line.strip() and not line.startswith("#")
    ]
    rows = np.array([pos[a] for a, _ in pairs])
    classes, lab = np.unique([b for _, b in pairs], return_inverse=True)
    uniq, inv = np.unique(rows, return_inverse=True)
    Y = np.zeros((len(uniq), len(classes)), dtype=np.int8)
    Y[inv, lab] = 1
    return uniq, Y


def probe(Z, rows, Y, seed):
    """One seed's split: macro-F1, micro-F1, mean auROC (C = 1, L2-normalised rows)."""
    Z = np.asarray(Z, dtype=np.float64)[rows]
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    train, _, test = _random_split(Y, 0.5, 0.0, np.random.default_rng(seed))
    out = _fit_predict(Z, Y, train, {"test": test}, 1.0, True, seed)["test"]
    return _scores(Y[test], out, True)


def run_peer(python: Path, script: str, edges: list, extra=()):
    """Embeddings and wall times of a peer run in its own environment (None if not installed)."""
    if not python.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.npz"
        subprocess.run(
            [str(python), str(PEERS / script), str(out), *map(str, edges), *extra],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        saved = np.load(out)
        return [
            (saved[f"emb{i}"], saved[f"ids{i}"], float(saved[f"wall{i}"]))
            for i in range(len(edges))
        ]


def aligned(emb, peer_ids, ids):
    order = {str(v): i for i, v in enumerate(peer_ids)}
    Z = np.zeros((len(ids), emb.shape[1]), dtype=np.float32)
    for r, v in enumerate(ids):
        if str(v) in order:
            Z[r] = emb[order[str(v)]]
    return Z


def genurl_embed(path, seed, epochs=None):
    start = time.perf_counter()
    graph = read_graph(path)
    Z = GenURL(random_state=seed, epochs=epochs).fit_transform(graph)
    return Z, graph.ids, time.perf_counter() - start


def summary(runs):
    keys = runs[0].keys()
    return {
        k: {
            "mean": float(np.mean([r[k] for r in runs])),
            "std": float(np.std([r[k] for r in runs])),
        }
        for k in keys
    }


def link_auc(path, weighted, seeds, who):
    """Mean test AUC over ``seeds`` 85/5/10 edge splits; ``who``: genurl or prone."""
    graph = read_graph(path)

    def embed(train_graph, seed):
        if who == "genurl":
            return GenURL(random_state=seed).fit_transform(train_graph)
        with tempfile.TemporaryDirectory() as tmp:
            edg = Path(tmp) / "train.edg"
            coo = train_graph.adj.tocoo()
            keep = coo.row < coo.col
            cols = [train_graph.ids[coo.row[keep]], train_graph.ids[coo.col[keep]]]
            if weighted:
                cols.append(coo.data[keep])
            np.savetxt(edg, np.c_[tuple(cols)], fmt="%s", delimiter="\t")
            res = run_peer(PRONE, "prone_run.py", [edg], ["--weighted"] if weighted else [])
            emb, ids, _ = res[0]
            return aligned(emb, ids, train_graph.ids)

    runs = evaluate_links(graph, embed, seeds=seeds)["runs"]
    return {
        "auc": float(np.mean([r["auc"] for r in runs])),
        "runs": [float(r["auc"]) for r in runs],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", default=["ppi", "blogcatalog", "dblp", "weighted"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--link-seeds", type=int, default=2, help="edge splits for link prediction (0: skip)"
    )
    parser.add_argument(
        "--no-node2vec", action="store_true", help="skip pecanpy (minutes per graph)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "structure.json"))
    args = parser.parse_args()
    results = {"seeds": args.seeds, "cores": os.cpu_count(), "graphs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = graphs(work, args.only)
        warm = work / "warm.edg"  # warm-up: the first fit pays imports and allocator growth
        rng = np.random.default_rng(0)
        np.savetxt(warm, rng.integers(0, 300, (3000, 2)), fmt="%d", delimiter="\t")
        genurl_embed(warm, 0)
        for name, (edges, labels, weighted) in data.items():
            print(f"{name}:", flush=True)
            res = {}
            ids = read_graph(edges).ids
            rows, Y = multi_hot(labels, ids)
            trained = ge_defaults(
                read_graph(edges)
            ).train.epochs  # the default's epochs: show the other choice
            for who, epochs in (
                ("genurl", None),
                (f"genurl {2 if trained == 0 else 0} ep", 2 if trained == 0 else 0),
            ):
                runs, walls = [], []
                for seed in range(args.seeds):
                    Z, _, wall = genurl_embed(edges, seed, epochs)
                    runs.append(probe(Z, rows, Y, seed))
                    walls.append(wall)
                res[who] = {
                    "probe": summary(runs),
                    "wall_s": summary([{"s": w} for w in walls])["s"],
                }
                print(
                    f"  {who}: {res[who]['probe']['macro_f1']['mean']:.4f} macro-F1, "
                    f"{res[who]['probe']['auroc']['mean']:.4f} auROC, {np.mean(walls):.2f} s",
                    flush=True,
                )
            flag = ["--weighted"] if weighted else []
            prone = run_peer(PRONE, "prone_run.py", [edges] * args.seeds, flag)
            if prone is not None:
                runs = [probe(aligned(e, i, ids), rows, Y, s) for s, (e, i, _) in enumerate(prone)]
                res["prone"] = {
                    "probe": summary(runs),
                    "wall_s": summary([{"s": w} for _, _, w in prone])["s"],
                }
                print(
                    f"  prone: {res['prone']['probe']['macro_f1']['mean']:.4f} macro-F1, "
                    f"{res['prone']['probe']['auroc']['mean']:.4f} auROC, "
                    f"{res['prone']['wall_s']['mean']:.2f} s",
                    flush=True,
                )
            if not args.no_node2vec:
                n2v = run_peer(PECANPY, "pecanpy_run.py", [edges], flag)
                if n2v is not None:
                    e, i, w = n2v[0]
                    Z = aligned(e, i, ids)
                    runs = [probe(Z, rows, Y, s) for s in range(args.seeds)]
                    res["node2vec"] = {"probe": summary(runs), "wall_s": {"mean": w, "std": 0.0}}
                    print(
                        f"  node2vec: {res['node2vec']['probe']['macro_f1']['mean']:.4f} macro-F1, "
                        f"{res['node2vec']['probe']['auroc']['mean']:.4f} auROC, {w:.2f} s",
                        flush=True,
                    )
            if args.link_seeds:
                for who in ("genurl", "prone"):
                    if who in res:
                        res[who]["link_auc"] = link_auc(edges, weighted, args.link_seeds, who)
                        print(f"  {who} link AUC {res[who]['link_auc']['auc']:.4f}", flush=True)
            results["graphs"][name] = res
    print()
    print(
        f"{'graph':<12} {'method':<13} {'macro-F1':>15} {'micro-F1':>8} {'auROC':>15} "
        f"{'link AUC':>9} "
        f"{'wall s':>13} {'/ ProNE':>8}"
    )
    for name, res in results["graphs"].items():
        prone_wall = res.get("prone", {}).get("wall_s", {}).get("mean")
        for who, r in res.items():
            p = r["probe"]
            link = f"{r['link_auc']['auc']:.4f}" if "link_auc" in r else "-"
            ratio = f"{r['wall_s']['mean'] / prone_wall:.2f}" if prone_wall else "-"
            print(
                f"{name:<12} {who:<13} {p['macro_f1']['mean']:.4f}±{p['macro_f1']['std']:.4f} "
                f"{p['micro_f1']['mean']:>8.4f} {p['auroc']['mean']:.4f}±{p['auroc']['std']:.4f} "
                f"{link:>9} "
                f"{r['wall_s']['mean']:>7.2f}±{r['wall_s']['std']:<5.2f} {ratio:>8}"
            )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
