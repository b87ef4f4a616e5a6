#!/usr/bin/env bash
# The GPU check: gpu-marked tests, this machine's ceilings, and a short sweep of every workload on
# its GPU preset. Everything lands under $OUT (flat, at most a few files); a table prints last.
# Run from the repository root:  OUT=/tmp/out bash scripts/gpu-check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
gpucost() { python3 -m harness "$@"; }
results="$(mktemp -d)/results"
log="$OUT/gpu-check.log"
: > "$log"
step() { echo "== $*" | tee -a "$log"; }

step "environment"
gpucost env >> "$log" 2>&1
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv >> "$log" 2>&1

step "gpu-marked tests"
if python3 -c "import pytest" 2>/dev/null; then
  python3 -m pytest -m gpu -q -p no:cacheprovider tests >> "$log" 2>&1
  echo "gpu tests exit code: $?" | tee -a "$log"
else
  echo "pytest is not installed here: carry its wheels in .whl" | tee -a "$log"
fi

step "calibrate"
gpucost calibrate --out "$OUT/calibration.json" >> "$log" 2>&1 || echo "calibrate failed" | tee -a "$log"

step "text (llama-3.2-1b)"
gpucost run -w text --preset llama-3.2-1b -b 1,8,64 --input-len 128 --output-len 64 \
  --iterations 5 --warmup 2 --min-duration 2 --out "$results" --no-price >> "$log" 2>&1
step "other workloads (GPU default presets)"
gpucost run -w image,asr,tts,embedding,retrieval --iterations 5 --warmup 2 --min-duration 2 \
  --out "$results" --no-price >> "$log" 2>&1

tar -C "$results" -czf "$OUT/runs.tar.gz" . 2>/dev/null
step "summary"
python3 - "$results" <<'PY' | tee "$OUT/summary.txt"
import sys
from pathlib import Path

import pandas as pd

frames = [pd.read_csv(p) for p in sorted(Path(sys.argv[1]).glob("*/measurements.csv"))]
if not frames:
    sys.exit("no measurements")
df = pd.concat(frames, ignore_index=True)
cols = ["workload", "preset", "batch_size", "status", "wall_s_p50", "wall_s_cv", "gpu_s_p50",
        "prefill_s_p50", "decode_s_p50", "energy_j", "energy_method", "avg_power_w",
        "idle_power_w", "peak_mem_allocated_bytes", "gpu_util_mean", "throttled", "gpu_name"]
with pd.option_context("display.width", 250, "display.max_columns", 30):
    print(df[[c for c in cols if c in df.columns]].to_string(index=False))
PY
