#!/usr/bin/env bash
# The GPU check (`make gpu-check`): on a CUDA machine with its own Python (3.12) and torch, no
# internet and no DGL, within 8 minutes:
#   1. install this package from the wheels in wheels/ (`make gpu-wheels` makes them where the
#      registry is reachable) into $OUT/site, taking only what the machine's Python lacks;
#   2. the CUDA tests (tests/test_kernels.py, tests/test_backends.py);
#   3. the kernel benchmark, torch vs spmm vs triton, with the n=1M, E=20M, d=128 target case;
#   4. `genurl reduce` of a 70,000 x 784 array (10 Gaussian clusters) with --device cuda;
#   5. a GE fit of the 10^6-node SBM (benchmarks/scale.py) with --device cuda;
# then one summary table ($OUT/summary.txt, $OUT/summary.json). Each step has a time limit
# within the 8 minutes; a failed step is reported and the next one runs.
#
#   bash benchmarks/gpu_check.sh            # on the GPU machine
#   bash benchmarks/gpu_check.sh --tiny     # here: CPU, Triton's interpreter, tiny sizes (a test runs this)
# Environment: GPU_CHECK_PYTHON (default python3), GPU_CHECK_OUT (default
# benchmarks/results/gpu_check), GPU_CHECK_WHEELS (default wheels), GPU_CHECK_BUDGET (seconds, 470).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${GPU_CHECK_PYTHON:-python3}
OUT=${GPU_CHECK_OUT:-benchmarks/results/gpu_check}
WHEELS=${GPU_CHECK_WHEELS:-wheels}
BUDGET=${GPU_CHECK_BUDGET:-470}
TINY=0
[ "${1:-}" = "--tiny" ] && TINY=1
case "$PYTHON" in */*) PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" ;; esac
mkdir -p "$OUT/work"
ROOT=$(pwd)
OUT=$(cd "$OUT" && pwd)
WHEELS=$(cd "$WHEELS" 2>/dev/null && pwd || echo "$ROOT/$WHEELS")
SITE=$OUT/site
GENURL=("$PYTHON" "$SITE/bin/genurl")  # the installed entry point, not the source tree
STATUS="$OUT/steps.tsv"
: > "$STATUS"
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
if [ $TINY = 1 ]; then
  export TRITON_INTERPRET=1
  DEVICE=cpu
  export GENURL_NO_DGL=1  # as on the GPU machine
  KERNELS=(--device cpu --edges 3000 --dims 4 --backends torch,triton --no-target)
  REDUCE_N=1500; REDUCE_F=30; REDUCE=(--epochs 20)
  SCALE=(--sizes 2000 --walks 2 --walk-length 10 --window 3 --epochs 2 --batch-per-node 0 --device cpu
         --probe-nodes 1000 --seeds 1)
  TESTS=(-k "cuda or triton_refuses")
else
  DEVICE=cuda
  KERNELS=(--device cuda --edges 10000000 --dims 16,128 --backends torch,spmm,triton)
  REDUCE_N=70000; REDUCE_F=784; REDUCE=()
  SCALE=(--sizes 1000000 --device cuda)
  TESTS=(-k "not gpu_check")  # not the tiny run of this script itself
fi
START=$SECONDS
cd "$OUT/work"  # so the source tree's genurl_graph/ does not shadow the installed package

# step NAME CAP_SECONDS COMMAND...: run with a limit of min(CAP, what is left of the budget)
step() {
  local name=$1 cap=$2; shift 2
  local left=$((BUDGET - (SECONDS - START)))
  local limit=$(( cap < left ? cap : left ))
  if [ "$limit" -le 5 ]; then
    printf '%s\tskipped\t0\tno time left in the %s s budget\n' "$name" "$BUDGET" >> "$STATUS"
    echo "== $name: skipped (no time left)"; return
  fi
  echo "== $name (limit ${limit} s): $*"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]} took=$((SECONDS - t0)) state=ok
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && state="timed out"
  [ "$rc" != 0 ] && [ "$state" = ok ] && state="failed (exit $rc)"
  printf '%s\t%s\t%s\t%s\n' "$name" "$state" "$took" "$(tail -n 1 "$OUT/$name.log" | tr '\t' ' ' | cut -c1-100)" >> "$STATUS"
}

step install 90 "$PYTHON" "$ROOT/benchmarks/gpu_install.py" --wheels "$WHEELS" --target "$SITE"
step info 30 "${GENURL[@]}" info
step cuda-tests 120 "$PYTHON" -m pytest -q -p no:cacheprovider "$ROOT/tests/test_kernels.py" "$ROOT/tests/test_backends.py" "${TESTS[@]}"
step kernels 150 "$PYTHON" "$ROOT/benchmarks/kernels.py" "${KERNELS[@]}" --out "$OUT/kernels.json"
step reduce-data 30 "$PYTHON" - "$OUT" "$REDUCE_N" "$REDUCE_F" <<'PY'
import sys
import numpy as np
out, n, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
y = rng.integers(0, 10, n)
X = (rng.normal(size=(10, f)) * 3)[y] + rng.normal(size=(n, f))
np.save(f"{out}/X.npy", X.astype(np.float32))
np.savetxt(f"{out}/y.txt", y, fmt="%d")
print(f"{n} x {f} array, 10 clusters -> {out}/X.npy")
PY
step reduce 120 "${GENURL[@]}" reduce "$OUT/X.npy" --dim 2 \
  -o "$OUT/Y.npy" --labels "$OUT/y.txt" --device "$DEVICE" --quiet --json "$OUT/reduce.json" "${REDUCE[@]}"
step ge-sbm 400 "$PYTHON" "$ROOT/benchmarks/scale.py" "${SCALE[@]}" --out "$OUT/scale.json"

"$PYTHON" - "$OUT" "$((SECONDS - START))" "$BUDGET" <<'PY' | tee "$OUT/summary.txt"
import json, sys
from pathlib import Path
out, total, budget = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rows = [line.split("\t", 3) for line in (out / "steps.tsv").read_text().splitlines()]
result = {}
try:
    k = json.loads((out / "kernels.json").read_text())
    best = {}
    for r in k["rows"]:
        if "error" not in r:
            key = (r["edges"], r["dim"])
            best.setdefault(key, {})[r["backend"]] = r
    result["kernels"] = "; ".join(
        f"E={e:,} d={d}: " + ", ".join(f"{b} {v['edges_per_s'] / 1e6:.1f} M/s {v['peak_bytes'] / 2**30:.2f} GiB"
                                       for b, v in m.items()) for (e, d), m in best.items())
    result["kernels"] += "; " + " ".join(k.get("target", []))
except Exception as exc:
    result["kernels"] = f"no result ({exc.__class__.__name__})"
try:
    r = json.loads((out / "reduce.json").read_text())
    result["reduce"] = (f"{r['n']:,} x {r['features']} in {r['seconds']:.1f} s, T@10 "
                        f"{r['metrics']['trustworthiness']:.4f}, 10-NN acc {r['metrics']['knn_accuracy']:.4f}")
except Exception as exc:
    result["reduce"] = f"no result ({exc.__class__.__name__})"
try:
    s = json.loads((out / "scale.json").read_text())["rows"][0]
    result["ge-sbm"] = (f"{s['nodes']:,} nodes in {s['seconds']:.1f} s (train {s['train_seconds']:.1f} s, "
                        f"{s['backend']}), probe {100 * s['probe_accuracy']:.2f} %, peak GPU "
                        f"{(s['peak_cuda_bytes'] or 0) / 2**30:.2f} GiB" if "error" not in s else s["error"])
except Exception as exc:
    result["ge-sbm"] = f"no result ({exc.__class__.__name__})"
print(f"\nGPU check summary ({total} s of the {budget} s budget)")
print(f"{'step':<12} {'status':<16} {'s':>5}  result")
for name, state, took, last in rows:
    print(f"{name:<12} {state:<16} {took:>5}  {result.get(name, last)}")
ok = all(state == "ok" for _, state, _, _ in rows)
print("all steps ok" if ok else "NOT all steps ok")
(out / "summary.json").write_text(json.dumps({"seconds": total, "budget": budget, "ok": ok, "steps": [
    {"step": n, "status": st, "seconds": int(t), "result": result.get(n, last)} for n, st, t, last in rows]}, indent=2))
sys.exit(0 if ok else 1)
PY
