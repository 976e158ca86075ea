"""Distributed GenURL (DistDGL) on 2 emulated machines against one process, same settings.

    sudo .venv/bin/python benchmarks/distributed.py       # SBMs of 10^5 and 2x10^5 nodes,
    BlogCatalog (+ 2 epochs)
    sudo .venv/bin/python benchmarks/distributed.py --cases blogcatalog
    sudo .venv/bin/python benchmarks/distributed.py --cases sbm --sbm-nodes 100000,400000

GenURL's default settings on both sides (``NAME@E``: both runs train E epochs). Each case: (1)
`genurl embed`'s pipeline in one process (GenURL(task="ge").fit, then the embedding written);
(2) `genurl partition` (P_X, closed-form start, METIS into 2) in one process; (3) `genurl
embed-dist` on 2 machines emulated by network namespaces with private /dev/shm
(genurl_graph.distributed.emulate: one server + one trainer each, started with the commands DGL's
launcher runs). Memory is the summed PSS of a machine's processes (of the one process for (1)
and (2)), sampled every 0.1 s, also by process role. Quality: the linear probe on the planted
communities (SBM: accuracy, 3 random 50/10/40 splits over 20,000 sampled nodes, as
benchmarks/scale.py) or BlogCatalog's labels (macro-F1, one-vs-rest, 50 % train, 5 splits, as
benchmarks/ge.py). Wall times: the process-start share of the distributed run is everything but
the training and the writing (interpreter and imports, DGL's connect, opening the partitions).
Each size gives where 4 machines would beat one (linear in P_X edges); two or more SBM sizes
give lines in n of the peaks and walls (``trend``). Needs root. Prints a table and writes
benchmarks/results/distributed.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds scripts named like standard modules (ssl.py): keep this folder off the import
# path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import json
import os
import shutil
import subprocess
import time

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BLOG = Path("/work/shared/data/node2vec-graphs")


def make_case(name: str, work: Path, args) -> dict:
    """Edge and label files of a case in ``work``, and the settings both runs use; ``NAME@E``:
    both runs train E epochs."""
    work.mkdir(parents=True, exist_ok=True)
    name, _, ep = name.partition("@")
    epochs = int(ep) if ep else args.epochs
    if name.startswith("sbm"):
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from scale import sbm_edges

        n = int(name[3:])
        src, dst, labels = sbm_edges(n, 10, 10.0, 0.3, args.seed)
        np.savetxt(work / "edges.txt", np.stack([src, dst], 1), fmt="%d")
        (work / "nodes.txt").write_text("".join(f"{i}\n" for i in range(n)))
        np.save(work / "labels.npy", labels)
        return {
            "edges": str(work / "edges.txt"),
            "nodes": str(work / "nodes.txt"),
            "dim": args.dim,
            "epochs": epochs,
        }
    if name == "blogcatalog":
        shutil.copy(BLOG / "BlogCatalog.edg", work / "edges.txt")
        shutil.copy(BLOG / "BlogCatalog.labels.tsv", work / "labels.txt")
        return {"edges": str(work / "edges.txt"), "nodes": None, "dim": args.dim, "epochs": epochs}
    raise SystemExit(f"unknown case {name}")


def child_single(case: dict, out: str) -> dict:
    """In a child process: `genurl embed`'s pipeline (read, fit, write)."""
    from genurl_graph import GenURL, read_graph
    from genurl_graph.io import write_embeddings

    t0 = time.perf_counter()
    graph = read_graph(case["edges"], nodes=case["nodes"])
    model = GenURL(task="ge", dim=case["dim"], epochs=case["epochs"], random_state=0).fit(graph)
    t_fit = time.perf_counter()
    write_embeddings(out, model.embeddings_, graph.ids)
    return {
        "seconds": time.perf_counter() - t0,
        "train_seconds": model.history_.seconds,
        "epochs": len(model.history_.losses),
        "px_edges": int(model.affinity_.P.nnz),
        "fit_seconds": t_fit - t0,
    }


def child_partition(case: dict, out: str) -> dict:
    from genurl_graph import read_graph
    from genurl_graph.distributed import partition

    t0 = time.perf_counter()
    graph = read_graph(case["edges"], nodes=case["nodes"])
    s = partition(graph, out, 2, dim=case["dim"])
    return {
        "seconds": time.perf_counter() - t0,
        "cut_fraction": s["cut_fraction"],
        "px_edges": s["num_px_edges"],
        "part_sizes": s["part_sizes"],
        "epochs": s["epochs"],
    }


def in_child(kind: str, case: dict, out: str) -> dict:
    """Run ``kind`` in a fresh process; its result, wall seconds and peak memory (PSS sampled,
    and the kernel's peak RSS)."""
    from genurl_graph.distributed.emulate import MemorySampler

    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, json.dumps(case), out],
        stdout=subprocess.PIPE,
        text=True,
    )
    sampler = MemorySampler([lambda: [proc.pid]], 0.1)
    t0 = time.time()
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    sampler.stop()
    text = proc.stdout.read()
    if status != 0:
        raise SystemExit(f"{kind} failed (status {status})")
    result = json.loads(text.strip().splitlines()[-1])
    return {
        **result,
        "wall": wall,
        "peak_pss_bytes": sampler.peaks[0],
        "peak_rss_bytes": usage.ru_maxrss * 1024,
    }


def run_dist(work: Path, timeout: float, epochs: int | None, launch: str = "genurl") -> dict:
    from genurl_graph.distributed.emulate import Cluster, launch_commands

    bin_ = Path(sys.executable).parent
    # `genurl embed-dist`: DGL's launcher runs it as it is (no python named); `python3 -m
    # genurl_graph.cli embed-dist`: under torch.distributed.launch
    cmd = f"{bin_ / 'genurl'}" if launch == "genurl" else f"{bin_ / 'python3'} -m genurl_graph.cli"
    summary = work / "dist_summary.json"
    udf = f"{cmd} embed-dist -q -o {work / 'dist.npy'} --summary {summary}"
    if epochs is not None:
        udf += f" --epochs {epochs}"
    with Cluster(2) as cluster:
        ip_config = cluster.write_ip_config(work / "ip_config.txt")
        # each emulated machine gets one of the host's cores: one torch thread per trainer
        machines = launch_commands(
            cluster.hosts, work / "parts" / "genurl.json", ip_config, udf, omp_threads=1
        )
        logs = [open(work / f"machine{i}.log", "w") for i in range(2)]
        result = cluster.run(machines, work, logs, timeout=timeout)
        for log in logs:
            log.close()
    if result["returncodes"] != [0, 0]:
        raise SystemExit(
            f"distributed run failed: {result['returncodes']}, see {work}/machine*.log"
        )
    s = json.loads(summary.read_text())
    outside = result["wall"] - s["seconds"]["train"] - s["seconds"]["write"]
    return {
        "wall": result["wall"],
        "peak_pss_bytes": result["peak_bytes"],
        "summary": s,
        "peak_pss_bytes_by_role": result["peak_bytes_by_role"],
        "start_share": outside / result["wall"],
    }


def quality(name: str, work: Path, emb: Path, args) -> dict:
    if name.startswith("sbm"):  # sbmN[@E]
        from genurl_graph.eval import linear_probe
        from genurl_graph.io import read_embeddings

        Z, ids = read_embeddings(emb)
        labels = np.load(work / "labels.npy")
        assert ids is None or list(map(int, ids[:5])) == [0, 1, 2, 3, 4]
        rows = np.random.default_rng(args.seed).choice(len(Z), min(len(Z), 20000), replace=False)
        m = linear_probe(Z[rows], labels[rows], seeds=3)["metrics"]["accuracy"]
        return {"metric": "accuracy", "mean": m["mean"], "std": m["std"]}
    from genurl_graph.eval.tasks import node_classification

    m = node_classification(emb, work / "labels.txt", None, True, 5, 0.5)["metrics"]["macro_f1"]
    return {"metric": "macro_f1", "mean": m["mean"], "std": m["std"]}


def _line(x, y):
    """Least-squares (intercept, slope) of y against x."""
    slope, icpt = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return float(icpt), float(slope)


def _cross(a, b) -> float | None:
    """Where line a = (intercept, slope) falls to line b and stays below (None: never)."""
    if a[1] >= b[1]:
        return None
    return max((a[0] - b[0]) / (b[1] - a[1]), 0.0)


def extrapolate(rows: list) -> dict | None:
    """Lines in the node count n through the SBM sizes: the single-process peak and wall, the
    partition step's wall, a machine's peak with 2 partitions (a fixed part plus a part that
    scales with the machine's share n/k, so k machines hold 2 m n / k) and the distributed wall
    (fixed plus training, whose per-trainer share halves from 2 to 4 machines). Prints where the
    per-machine peak drops to 0.6x the single one (2 and 4 machines) and where 4 machines beat
    one in wall time (with and without the one-machine partition step)."""
    sbm = sorted(
        (r for r in rows if r["case"].startswith("sbm") and "@" not in r["case"]),
        key=lambda r: int(r["case"][3:]),
    )
    if len(sbm) < 2:
        return None
    n = [int(r["case"][3:]) for r in sbm]
    mem1 = _line(n, [r["single"]["peak_pss_bytes"] for r in sbm])
    mem2 = _line(n, [max(r["dist"]["peak_pss_bytes"]) for r in sbm])
    wall1 = _line(n, [r["single"]["wall"] for r in sbm])
    part = _line(n, [r["partition"]["wall"] for r in sbm])
    train2 = _line(n, [r["dist"]["summary"]["seconds"]["train"] for r in sbm])
    fixed = float(
        np.mean([r["dist"]["wall"] - r["dist"]["summary"]["seconds"]["train"] for r in sbm])
    )
    mem4 = (mem2[0], mem2[1] / 2)
    dist4 = (fixed + train2[0], train2[1] / 2)
    out = {
        "sizes": n,
        "single_peak": mem1,
        "machine_peak_2": mem2,
        "single_wall": wall1,
        "partition_wall": part,
        "dist_train_2": train2,
        "dist_fixed_s": fixed,
    }
    for k, m in ((2, mem2), (4, mem4)):
        out[f"n_peak_06_{k}"] = _cross((m[0] - 0.6 * mem1[0], m[1] - 0.6 * mem1[1]), (0.0, 0.0))
    out["n_wall_4"] = _cross(dist4, wall1)
    out["n_wall_4_with_partition"] = _cross((dist4[0] + part[0], dist4[1] + part[1]), wall1)
    MB = 2**20
    print(f"\ntrend over SBM sizes {n} (lines in n, per 1,000 nodes):")
    print(
        f"  peak: 1 process {mem1[0] / MB:.0f} MB + {mem1[1] * 1e3 / MB:.2f} MB; a machine of 2: "
        f"{mem2[0] / MB:.0f} MB + "
        f"{mem2[1] * 1e3 / MB:.2f} MB (asymptotic ratio {mem2[1] / mem1[1]:.2f}; 4 machines "
        f"{mem4[1] / mem1[1]:.2f})"
    )
    for k in (2, 4):
        v = out[f"n_peak_06_{k}"]
        print(
            f"  {k} machines' peak <= 0.6x one process's from "
            + (f"{v:,.0f} nodes" if v is not None else "never")
        )
    print(
        f"  wall: 1 process {wall1[0]:.1f} s + {wall1[1] * 1e3:.3f} s; partition {part[0]:.1f} s "
        f"+ {part[1] * 1e3:.3f} s; "
        f"2 machines' training {train2[0]:.1f} s + {train2[1] * 1e3:.3f} s, fixed {fixed:.1f} s"
    )
    for key, what in (
        ("n_wall_4", "4 machines (partitions made)"),
        ("n_wall_4_with_partition", "4 machines + the partition step"),
    ):
        v = out[key]
        print(
            f"  {what} beat one process from "
            + (f"{v:,.0f} nodes" if v is not None else "never (slower per node)")
        )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cases",
        default="sbm,blogcatalog,blogcatalog@2",
        help="sbm (the --sbm-nodes sizes), blogcatalog; NAME@E: both runs train E epochs",
    )
    parser.add_argument(
        "--sbm-nodes",
        default="100000,200000",
        help="SBM sizes (case sbm); two or more give the memory and time extrapolations",
    )
    parser.add_argument("--dim", type=int, default=None, help="default: GenURL's (128)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="both runs (default: GenURL's: 0 up to 50k nodes, the closed-form start; 2 above)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--launch",
        choices=("genurl", "python"),
        default="genurl",
        help="the launch command: `genurl embed-dist` (one trainer per machine, no "
        "torch.distributed.launch parent) or `python3 -m genurl_graph.cli embed-dist` (wrapped "
        "in torch.distributed.launch by DGL's launcher)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for a distributed run")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "results" / "distributed_work"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "distributed.json"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, case, out = args.child
        fn = child_single if kind == "single" else child_partition
        print(json.dumps(fn(json.loads(case), out)))
        return
    rows = []
    names = []
    for name in args.cases.split(","):
        base, at, ep = name.partition("@")
        names += [f"sbm{n}{at}{ep}" for n in args.sbm_nodes.split(",")] if base == "sbm" else [name]
    for name in names:
        # the machines cd elsewhere: absolute paths
        work = Path(args.work).resolve() / name.replace("@", "_e")
        shutil.rmtree(work, ignore_errors=True)
        case = make_case(name, work, args)
        print(f"[{name}] single process ...", flush=True)
        single = in_child("single", case, str(work / "single.npy"))
        print(f"[{name}] partition ...", flush=True)
        part = in_child("partition", case, str(work / "parts"))
        print(f"[{name}] 2 emulated machines ...", flush=True)
        dist = run_dist(work, args.timeout, case["epochs"], args.launch)
        row = {
            "case": name,
            "single": single,
            "partition": part,
            "dist": dist,
            "q_single": quality(name, work, work / "single.npy", args),
            "q_dist": quality(name, work, work / "dist.npy", args),
        }
        ids_single = (work / "single.nodes.txt").read_text()
        row["same_id_order"] = ids_single == (work / "dist.nodes.txt").read_text()
        # extrapolation: training cost per P_X edge, one process vs per trainer with k machines
        s = dist["summary"]
        row["per_edge_single_s"] = single["train_seconds"] / single["px_edges"]
        row["per_edge_trainer_s"] = s["seconds"]["train"] / s["edges_per_trainer"]
        row["dist_fixed_s"] = dist["wall"] - s["seconds"]["train"]
        rows.append(row)
        print(
            json.dumps({k: v for k, v in row.items() if k not in ("dist",)}, indent=1), flush=True
        )
    print()
    print(
        f"{'case':<12} {'run':<22} {'quality %':>14} {'wall s':>8} {'train s':>8} "
        f"{'start share':>11} "
        f"{'peak MB / machine':>18}"
    )
    for r in rows:
        q1, q2 = r["q_single"], r["q_dist"]
        s = r["dist"]["summary"]
        print(
            f"{r['case']:<12} {'1 process':<22} {100 * q1['mean']:>8.2f} ± {100 * q1['std']:.2f} "
            f"{r['single']['wall']:>8.1f} {r['single']['train_seconds']:>8.1f} {'':>11} "
            f"{r['single']['peak_pss_bytes'] / 2**20:>18.0f}"
        )
        print(
            f"{'':<12} {'partition (1 process)':<22} {'':>14} {r['partition']['wall']:>8.1f} "
            f"{'':>8} {'':>11} "
            f"{r['partition']['peak_pss_bytes'] / 2**20:>18.0f}"
        )
        print(
            f"{'':<12} {'2 machines':<22} {100 * q2['mean']:>8.2f} ± {100 * q2['std']:.2f} "
            f"{r['dist']['wall']:>8.1f} {s['seconds']['train']:>8.1f} "
            f"{100 * r['dist']['start_share']:>10.1f}% "
            f"{' / '.join(f'{b / 2**20:.0f}' for b in r['dist']['peak_pss_bytes']):>18}"
        )
        for i, roles in enumerate(r["dist"]["peak_pss_bytes_by_role"]):
            print(
                f"{'':<12} machine {i} peak MB by process: "
                + ", ".join(
                    f"{k} {v / 2**20:.0f}"
                    for k, v in sorted(roles.items())
                    if v > 2**20 and k != "shm"
                )
                + f"; in its /dev/shm (partition, table rows, Adam moments) "
                f"{roles.get('shm', 0) / 2**20:.0f}"
            )
        # what one process holds of the same: the table, Adam's two moments, P_X (int64 ends,
        # float32 p)
        r["single_data_bytes"] = 3 * s["nodes"] * s["dim"] * 4 + 20 * r["single"]["px_edges"]
        shm = max(roles.get("shm", 0) for roles in r["dist"]["peak_pss_bytes_by_role"])
        print(
            f"{'':<12} table + Adam moments + P_X: one process "
            f"{r['single_data_bytes'] / 2**20:.0f} MB, "
            f"a machine's /dev/shm {shm / 2**20:.0f} MB ({shm / r['single_data_bytes']:.2f}x)"
        )
        ratio = max(r["dist"]["peak_pss_bytes"]) / r["single"]["peak_pss_bytes"]
        print(
            f"{'':<12} quality {q1['metric']} difference {100 * (q2['mean'] - q1['mean']):+.2f} "
            f"points; "
            f"peak per machine / single = {ratio:.2f}; ids in the same order: {r['same_id_order']}"
        )
        r["peak_ratio"] = ratio
        a, c, f = r["per_edge_single_s"], r["per_edge_trainer_s"], r["dist_fixed_s"]
        E = r["single"]["px_edges"]
        A, P_ = r["single"]["wall"] / E, r["partition"]["wall"] / E
        # linear in P_X edges E: 4 machines pay a fixed f (process start, connect, setup, write) and
        # c * E / 4 of training each; one process pays a * E of training. Training stage alone: f +
        # c E / 4
        # < a E; whole pipeline (the partition step on one machine, the single run's whole wall A
        # E):
        # P E + f + c E / 4 < A E
        r["break_even_px_edges_4_train"] = f / (a - c / 4) if a > c / 4 else None
        r["break_even_px_edges_4_pipeline"] = f / (A - P_ - c / 4) if A > P_ + c / 4 else None
        print(
            f"{'':<12} per P_X edge: training 1 process {a * 1e6:.2f} us, a trainer {c * 1e6:.2f} "
            f"us; whole run "
            f"1 process {A * 1e6:.2f} us, partition {P_ * 1e6:.2f} us; fixed {f:.1f} s"
        )
        for key, what in (("train", "training stage"), ("pipeline", "whole pipeline")):
            be = r[f"break_even_px_edges_4_{key}"]
            print(
                f"{'':<12} {what}: 4 machines beat one from "
                + (
                    f"{be:.3g} P_X edges ({be / E:.3g}x this graph)"
                    if be
                    else "never at these per-edge costs"
                )
            )
    trend = extrapolate(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"cores": os.cpu_count(), "args": vars(args), "rows": rows, "trend": trend}, indent=1
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
