"""Edge-pass kernel benchmark: ||z_u - z_v||^2 forward + backward over E pairs, per backend.

    python benchmarks/kernels.py                       # E in {1M, 10M}, d in {2, 16, 128}, n = E/10
    python benchmarks/kernels.py --edges 1000000 --dims 64,128
    python benchmarks/kernels.py --device cuda         # torch vs triton, + the issue's GPU case

Each (backend, E, d) runs in a fresh subprocess, so its peak RSS (CPU) or peak CUDA memory is
its own. "torch" is the naive pass (gather both endpoints, subtract, autograd); "spmm", "dgl" and
"triton" are genurl_graph's backends (backends that cannot run on the device are skipped).
On CUDA it also runs the issue's case, n=1M, E=20M, d=128, and checks it against the target
(>= 0.4 G edges/s, <= 1/5 of the naive pass's 32.8 GB measured on an H100). Prints a table and
writes benchmarks/results/kernels.json.
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
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


TARGET = {
    "nodes": 1_000_000,
    "edges": 20_000_000,
    "dim": 128,
    "edges_per_s": 0.4e9,
    "peak_bytes": 32.8e9 / 5,
}


def measure(
    backend: str, edges: int, dim: int, device: str, nodes: int = 0, repeats: int = 3
) -> dict:
    import time

    import torch

    sys.path.insert(0, str(ROOT))
    from genurl_graph.kernels import edge_sqdist

    n = nodes or max(edges // 10, 2)
    gen = torch.Generator(device=device).manual_seed(0)
    z = torch.randn(n, dim, generator=gen, device=device).requires_grad_()
    src = torch.randint(0, n, (edges,), generator=gen, device=device)
    dst = torch.randint(0, n, (edges,), generator=gen, device=device)
    w = torch.rand(edges, generator=gen, device=device)
    best = float("inf")
    for _ in range(repeats):
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        (edge_sqdist(z, src, dst, backend) * w).sum().backward()
        if device != "cpu":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
        z.grad = None
    peak = (
        torch.cuda.max_memory_allocated()
        if device != "cpu"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {
        "backend": backend,
        "nodes": n,
        "edges": edges,
        "dim": dim,
        "device": device,
        "seconds": best,
        "edges_per_s": edges / best,
        "peak_bytes": peak,
        "gpu": torch.cuda.get_device_name() if device != "cpu" else None,
    }


def runs_on(backend: str, device: str) -> bool:
    if backend == "dgl":
        return device == "cpu"
    if backend == "triton":  # or on CPU in Triton's interpreter (a smoke test of this script)
        return device.startswith("cuda") or os.environ.get("TRITON_INTERPRET") == "1"
    return True


def run_one(backend: str, edges: int, dim: int, device: str, nodes: int = 0) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--device",
            device,
            "--one",
            backend,
            str(edges),
            str(dim),
            str(nodes),
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return {
            "backend": backend,
            "edges": edges,
            "dim": dim,
            "device": device,
            "error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1],
        }
    return json.loads(proc.stdout.strip().splitlines()[-1])


def print_row(row: dict, base: float | None) -> None:
    head = f"{row.get('nodes', 0):>9} {row['edges']:>10} {row['dim']:>4} {row['backend']:>8}"
    if "error" in row:
        print(f"{head} failed: {row['error']}", flush=True)
        return
    ratio = f"{row['edges_per_s'] / base:.2f}x" if base else "-"
    print(
        f"{head} {row['edges_per_s'] / 1e6:>10.2f} {row['peak_bytes'] / 2**20:>9.0f} {ratio:>9}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", default="1000000,10000000")
    parser.add_argument("--dims", default="2,16,128")
    parser.add_argument(
        "--backends",
        default="torch,spmm,dgl,triton",
        help="those that cannot run on --device are skipped",
    )
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, or auto (cuda when torch sees one)"
    )
    parser.add_argument(
        "--no-target", action="store_true", help="on CUDA, skip the n=1M, E=20M, d=128 case"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kernels.json"))
    # internal: backend edges dim nodes
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.one:
        backend, edges, dim, nodes = args.one
        print(json.dumps(measure(backend, int(edges), int(dim), args.device, int(nodes))))
        return
    backends = [b for b in args.backends.split(",") if runs_on(b, args.device)]
    skipped = sorted(set(args.backends.split(",")) - set(backends))
    print(
        f"device {args.device}; backends {', '.join(backends)}"
        + (f" (skipped here: {', '.join(skipped)})" if skipped else ""),
        flush=True,
    )
    print(
        f"{'n':>9} {'E':>10} {'d':>4} {'backend':>8} {'M edges/s':>10} {'peak MB':>9} "
        f"{'vs torch':>9}",
        flush=True,
    )
    cases = [
        (e, d, 0) for e in map(int, args.edges.split(",")) for d in map(int, args.dims.split(","))
    ]
    if args.device.startswith("cuda") and not args.no_target:
        cases.append((TARGET["edges"], TARGET["dim"], TARGET["nodes"]))
    rows, verdicts = [], []
    for edges, dim, nodes in cases:
        base = None
        for backend in backends:
            row = run_one(backend, edges, dim, args.device, nodes)
            if backend == "torch" and "error" not in row:
                base = row["edges_per_s"]
            if "error" not in row:
                row["speedup_vs_torch"] = row["edges_per_s"] / base if base else None
            print_row(row, base)
            rows.append(row)
            if nodes and backend != "torch" and "error" not in row:
                ok = (
                    row["edges_per_s"] >= TARGET["edges_per_s"]
                    and row["peak_bytes"] <= TARGET["peak_bytes"]
                )
                verdicts.append(
                    f"target (n=1M, E=20M, d=128: >= 0.4 G edges/s, <= 6.56 GB) {backend}: "
                    f"{row['edges_per_s'] / 1e9:.3f} G edges/s, {row['peak_bytes'] / 1e9:.2f} GB: "
                    f"{'met' if ok else 'NOT met'}"
                )
    for line in verdicts:
        print(line)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"cores": os.cpu_count(), "device": args.device, "rows": rows, "target": verdicts},
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
