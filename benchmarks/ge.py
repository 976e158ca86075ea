"""Graph-embedding benchmark: the numbers of the graph-embedding issue, side by side in one run.

    python benchmarks/ge.py                 # everything (about 15-25 min on 2 cores)
    python benchmarks/ge.py --only cora --seeds 2

- Cora / CiteSeer: linear-probe accuracy on the public split of `genurl embed` defaults, mean
  and std over seeds, beside the raw-features floor; end-to-end wall time (files -> embedding).
- Link prediction, 85/5/10 edge split: AUC, AP, Hits@50, mean over seeds.
- BlogCatalog (structure only): macro-F1 and mean auROC (one-vs-rest probe, 50 % train,
  5 random splits) of GenURL vs node2vec 128-d by pecanpy (SparseOTF, p=q=1), and wall times,
  both on the same cores in this process.
Prints a table and writes benchmarks/results/ge.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# the script's folder holds benchmarks/ssl.py, which would shadow the standard ssl module (that
# requests, imported by ogb, needs): import from the repository root instead
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

from genurl_graph import GenURL, Graph, read_graph  # noqa: E402
from genurl_graph import io as gio  # noqa: E402
from genurl_graph.encoders import propagate  # noqa: E402
from genurl_graph.eval import evaluate_links, linear_probe  # noqa: E402

SHARED = Path(os.environ.get("GENURL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def mean_std(values):
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "runs": [float(v) for v in values],
    }


def inductive(graph, labels, split, seed: int, Z_full, hidden: float = 0.2) -> dict:
    """Hide a random ``hidden`` share of the nodes (their features and edges) during training,
    fit on the graph induced by the rest, embed every node with ``transform`` over the whole
    graph; probe on the public split. Returns the accuracy on the hidden test nodes, inductive
    and transductive (``Z_full``: the same seed's embedding trained on the whole graph)."""
    from genurl_graph.eval.nodes import _fit_predict, _normalise

    rng = np.random.default_rng(seed)
    n = graph.num_nodes
    hide = np.zeros(n, bool)
    hide[rng.choice(n, int(round(hidden * n)), replace=False)] = True
    seen = np.flatnonzero(~hide)
    sub = Graph(graph.symmetric()[seen][:, seen].tocsr(), graph.ids[seen], graph.features[seen])
    model = GenURL(random_state=seed).fit(sub)
    Z_ind = model.transform(graph)
    test_hidden = np.asarray(split["test"])[hide[np.asarray(split["test"])]]
    out = {}
    for name, Z in (("inductive", Z_ind), ("transductive", Z_full)):
        res = linear_probe(Z, labels, split)  # C chosen on the validation nodes
        pred = _fit_predict(
            _normalise(Z),
            labels,
            np.asarray(split["train"]),
            {"t": test_hidden},
            res["C"],
            False,
            0,
        )["t"]
        out[name] = float((pred == labels[test_hidden]).mean())
    out["hidden_test_nodes"] = int(len(test_hidden))
    return out


def planetoid(name: str, seeds: int) -> dict:
    folder = ROOT / "datasets" / name
    labels = np.loadtxt(folder / "labels.txt", dtype=np.int64)
    split = {k: np.asarray(v) for k, v in json.loads((folder / "split.json").read_text()).items()}
    accs, walls, ind = [], [], []
    for seed in range(seeds):
        start = time.perf_counter()
        graph = read_graph(folder / "edges.txt", features=folder / "features.npz")
        Z = GenURL(random_state=seed).fit_transform(graph)
        with tempfile.TemporaryDirectory() as tmp:
            gio.write_embeddings(Path(tmp) / "z.npy", Z, graph.ids)
        walls.append(time.perf_counter() - start)
        accs.append(linear_probe(Z, labels, split)["metrics"]["accuracy"]["mean"])
        print(
            f"  {name} seed {seed}: accuracy {100 * accs[-1]:.2f} %, {walls[-1]:.1f} s", flush=True
        )
        ind.append(inductive(graph, labels, split, seed, Z))
        print(
            f"  {name} seed {seed}: 20 % hidden, accuracy on the hidden test nodes: inductive "
            f"{100 * ind[-1]['inductive']:.2f} %, transductive "
            f"{100 * ind[-1]['transductive']:.2f} %",
            flush=True,
        )
    raw = linear_probe(graph.features.toarray(), labels, split)["metrics"]["accuracy"]["mean"]
    # the encoder's input alone (PPR-propagated features, no training): what training adds
    ppr = linear_probe(propagate(graph.symmetric(), graph.features, 16, 0.1), labels, split)
    ppr = ppr["metrics"]["accuracy"]["mean"]
    # one edge split per seed, embedded with that seed
    links = evaluate_links(
        graph, lambda g, s: GenURL(random_state=s).fit_transform(g), seeds=seeds
    )["runs"]
    for seed, run in enumerate(links):
        print(
            f"  {name} links seed {seed}: AUC {100 * run['auc']:.2f} % (score {run['score']})",
            flush=True,
        )
    return {
        "accuracy": mean_std(accs),
        "raw_features_accuracy": raw,
        "ppr_features_accuracy": ppr,
        "wall_s": mean_std(walls),
        "inductive_hidden_accuracy": mean_std([r["inductive"] for r in ind]),
        "transductive_hidden_accuracy": mean_std([r["transductive"] for r in ind]),
        "link_auc": mean_std([r["auc"] for r in links]),
        "link_ap": mean_std([r["ap"] for r in links]),
        "link_hits@50": mean_std([r["hits@50"] for r in links]),
    }


def blogcatalog(probe_seeds: int) -> dict:
    from genurl_graph.io import read_labels

    edg = SHARED / "node2vec-graphs" / "BlogCatalog.edg"
    lab = SHARED / "node2vec-graphs" / "BlogCatalog.labels.tsv"
    if not edg.exists():
        return {"skipped": f"{edg} not found"}
    out = {}
    start = time.perf_counter()
    graph = read_graph(edg)
    Z = GenURL(random_state=0).fit_transform(graph)
    out["genurl_wall_s"] = time.perf_counter() - start
    labels = read_labels(lab, graph.ids, graph.num_nodes)
    res = linear_probe(Z[labels.rows], labels.y, seeds=probe_seeds, Cs=(1.0,))
    out["genurl"] = {m: v["mean"] for m, v in res["metrics"].items()}
    print(f"  BlogCatalog GenURL: {out['genurl']} in {out['genurl_wall_s']:.1f} s", flush=True)
    exe = ROOT / ".venv-pecanpy" / "bin" / "pecanpy"
    if not exe.exists():
        out["pecanpy"] = f"not installed: {exe} (make bench creates it)"
        return out
    with tempfile.TemporaryDirectory() as tmp:
        emb_path = Path(tmp) / "pecanpy.npz"
        start = time.perf_counter()
        subprocess.run(
            [
                str(exe),
                "--input",
                str(edg),
                "--output",
                str(emb_path),
                "--mode",
                "SparseOTF",
                "--dimensions",
                "128",
                "--p",
                "1",
                "--q",
                "1",
                "--workers",
                str(os.cpu_count()),
                "--random_state",
                "0",
            ],
            check=True,
            capture_output=True,
        )
        out["pecanpy_wall_s"] = time.perf_counter() - start
        saved = np.load(emb_path, allow_pickle=False)
        emb, ids = saved["data"], saved["IDs"]
    order = {str(v): i for i, v in enumerate(ids)}
    Zp = emb[[order[str(v)] for v in graph.ids]]
    res = linear_probe(Zp[labels.rows], labels.y, seeds=probe_seeds, Cs=(1.0,))
    out["pecanpy"] = {m: v["mean"] for m, v in res["metrics"].items()}
    print(f"  BlogCatalog pecanpy: {out['pecanpy']} in {out['pecanpy_wall_s']:.1f} s", flush=True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="cora,citeseer,blogcatalog")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ge.json"))
    args = parser.parse_args()
    only = args.only.split(",")
    results = {"seeds": args.seeds, "cores": os.cpu_count()}
    for name in ("cora", "citeseer"):
        if name in only:
            print(f"{name}:", flush=True)
            results[name] = planetoid(name, args.seeds)
    if "blogcatalog" in only:
        print("blogcatalog:", flush=True)
        results["blogcatalog"] = blogcatalog(5)
    print()
    print(
        f"{'data set':<12} {'probe acc %':>14} {'raw floor %':>12} {'PPR input %':>12} "
        f"{'link AUC %':>14} "
        f"{'wall s':>8} {'inductive/transductive':>23}"
    )
    for name in ("cora", "citeseer"):
        if name in results:
            r = results[name]
            ratio = (
                r["inductive_hidden_accuracy"]["mean"] / r["transductive_hidden_accuracy"]["mean"]
            )
            print(
                f"{name:<12} {100 * r['accuracy']['mean']:>8.2f}±{100 * r['accuracy']['std']:.2f} "
                f"{100 * r['raw_features_accuracy']:>12.2f} "
                f"{100 * r['ppr_features_accuracy']:>12.2f} "
                f"{100 * r['link_auc']['mean']:>8.2f}±"
                f"{100 * r['link_auc']['std']:.2f} {r['wall_s']['mean']:>8.1f} "
                f"{ratio:>23.3f}"
            )
    if "blogcatalog" in results and "genurl" in results["blogcatalog"]:
        b = results["blogcatalog"]
        for who in ("genurl", "pecanpy"):
            if isinstance(b.get(who), dict):
                print(
                    f"BlogCatalog {who:<8} macro-F1 {100 * b[who]['macro_f1']:.2f} %  auROC "
                    f"{100 * b[who]['auroc']:.2f} %  wall {b[who + '_wall_s']:.1f} s"
                )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
