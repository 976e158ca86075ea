"""Edge-pass kernel benchmark: ||z_u - z_v||^2 forward + backward over E pairs, per backend.

    python benchmarks/kernels.py                       # E in {1M, 10M}, d in {2, 16, 128}
    python benchmarks/kernels.py --edges 1000000 --dims 64,128

Each (backend, E, d) runs in a fresh subprocess, so its peak RSS (CPU) or peak CUDA memory is
its own. "torch" is the naive pass (gather both endpoints, subtract, autograd); "dgl" is
genurl_graph's DGL backend. Prints a table and writes benchmarks/results/kernels.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(backend: str, edges: int, dim: int, device: str, repeats: int = 3) -> dict:
    import time

    import torch

    sys.path.insert(0, str(ROOT))
    from genurl_graph.kernels import edge_sqdist

    n = max(edges // 10, 2)
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(n, dim, generator=gen).to(device).requires_grad_()
    src = torch.randint(0, n, (edges,), generator=gen).to(device)
    dst = torch.randint(0, n, (edges,), generator=gen).to(device)
    w = torch.rand(edges, generator=gen).to(device)
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
    peak = (torch.cuda.max_memory_allocated() if device != "cpu"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"backend": backend, "edges": edges, "dim": dim, "device": device, "seconds": best,
            "edges_per_s": edges / best, "peak_bytes": peak}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", default="1000000,10000000")
    parser.add_argument("--dims", default="2,16,128")
    parser.add_argument("--backends", default="torch,dgl")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "kernels.json"))
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)  # internal: backend edges dim
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), int(args.one[2]), args.device)))
        return
    rows = []
    print(f"{'E':>10} {'d':>4} {'backend':>8} {'M edges/s':>10} {'peak MB':>9} {'vs torch':>9}", flush=True)
    for edges in map(int, args.edges.split(",")):
        for dim in map(int, args.dims.split(",")):
            base = None
            for backend in args.backends.split(","):
                proc = subprocess.run([sys.executable, __file__, "--device", args.device, "--one", backend,
                                       str(edges), str(dim)], capture_output=True, text=True)
                if proc.returncode != 0:
                    row = {"backend": backend, "edges": edges, "dim": dim, "device": args.device,
                           "error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
                    print(f"{edges:>10} {dim:>4} {backend:>8} failed: {row['error']}", flush=True)
                else:
                    row = json.loads(proc.stdout.strip().splitlines()[-1])
                    if backend == "torch":
                        base = row["edges_per_s"]
                    ratio = f"{row['edges_per_s'] / base:.2f}x" if base else "-"
                    row["speedup_vs_torch"] = row["edges_per_s"] / base if base else None
                    print(f"{edges:>10} {dim:>4} {backend:>8} {row['edges_per_s'] / 1e6:>10.2f} "
                          f"{row['peak_bytes'] / 2**20:>9.0f} {ratio:>9}", flush=True)
                rows.append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
