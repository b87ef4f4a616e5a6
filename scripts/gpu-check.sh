#!/usr/bin/env bash
# The GPU check: gpu-marked tests, this machine's ceilings, and a short sweep of every workload on
# its GPU preset. Everything lands flat under $OUT (a log, a summary, the run folders as one
# tarball, refreshed after each step so a time-out keeps what finished); a table prints last.
#
# From the repository root, on a machine with the project's dependencies (diffusers, pytest and
# hypothesis included; where they are missing, install wheels carried in .whl with
# `pip install --no-index --no-deps --target /tmp/site .whl/*.whl` and put /tmp/site on
# PYTHONPATH together with the checkout):
#   OUT=/tmp/out bash scripts/gpu-check.sh
# DRY_RUN=1 runs every step on the CPU with tiny presets, to check the script before it meets a
# card (GPU-only figures then come out empty).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD"
results="$(mktemp -d)/results"
mkdir -p "$results"
log="$OUT/gpu-check.log"
if [ "${DRY_RUN:-0}" = 1 ]; then
  DEVICE=cpu PRESET=tiny BATCHES=1,4 DTYPE=fp32 CAL=(--size 256 --repeats 2)
  OTHERS=(--device cpu) GPUS=() LEVELS=1,4 REPLAY=(--max-input-len 96 --max-output-len 16)
  FIXED=(--input-len 96 --output-len 16)
else
  DEVICE=cuda:0 PRESET=llama-3.2-1b BATCHES=1,8,64 DTYPE=bf16 CAL=()
  OTHERS=() GPUS=(--gpus 0) LEVELS=1,8,32,128
  # The Azure slice's mix (mean 903 in / 235 out, longest input 4,107) fits a 4,096 context cut
  # at 3,500 in / 512 out; the fixed-length row beside it runs the mean lengths at the same rate.
  REPLAY=(--max-input-len 3500 --max-output-len 512) FIXED=(--input-len 903 --output-len 235)
fi
TRACE=tests/data/traces/azure_conv_head200.csv  # 200 requests over 61 s of the real trace
: > "$log"
step() { echo "== $*" | tee -a "$log"; }
# gpucost SECONDS ARGS...: one command under a time limit, its output in the log.
gpucost() {
  local limit=$1; shift
  timeout --signal=INT --kill-after=20 "$limit" python3 -m harness "$@" >> "$log" 2>&1
  local rc=$?
  echo "exit code: $rc" | tee -a "$log"
  tar -C "$results" -czf "$OUT/runs.tar.gz" . 2>/dev/null
  return $rc
}

step "environment"
gpucost 60 env
nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm --format=csv >> "$log" 2>&1

step "gpu-marked tests"
timeout --kill-after=20 150 python3 -m pytest -m gpu -q -p no:cacheprovider tests >> "$log" 2>&1
echo "gpu tests exit code: $?" | tee -a "$log"

step "calibrate"
gpucost 60 calibrate --device "$DEVICE" ${CAL[@]+"${CAL[@]}"} --out "$OUT/calibration.json"

step "text ($PRESET, 128 in / 64 out)"
gpucost 150 run -w text --preset "$PRESET" --device "$DEVICE" -b "$BATCHES" --input-len 128 --output-len 64 \
  --iterations 5 --warmup 2 --min-duration 2 --out "$results" --no-price

step "meters: energy counter vs integrated power, sampler overhead, repeatability"
timeout --signal=INT --kill-after=20 240 python3 benchmarks/gpu_meters.py --device "$DEVICE" \
  --preset "$PRESET" --batch-sizes 1,8 --input-len 128 --output-len 64 --iterations 5 \
  --min-duration 1 --rounds 3 --json "$OUT/gpu_meters.json" 2>> "$log" | tee -a "$log" "$OUT/gpu_meters.txt"
echo "meters exit code: ${PIPESTATUS[0]}" | tee -a "$log"

step "text engines ($PRESET, $DTYPE, 128 in / 256 out, eager vs compiled, alternating)"
calibration=()
[ -f "$OUT/calibration.json" ] && calibration=(--calibration "$OUT/calibration.json")
timeout --signal=INT --kill-after=20 420 python3 benchmarks/engine_compare.py \
  --preset "$PRESET" --device "$DEVICE" --dtype "$DTYPE" --batch-sizes "$BATCHES" \
  --input-len 128 --output-len 256 --warmup 1 --rounds 3 ${calibration[@]+"${calibration[@]}"} \
  --json "$OUT/engine_compare.json" 2>> "$log" | tee -a "$log" "$OUT/engine_compare.txt"
echo "engine compare exit code: ${PIPESTATUS[0]}" | tee -a "$log"

step "image, asr, tts, embedding, retrieval (GPU default presets)"
gpucost 200 run -w image,asr,tts,embedding,retrieval --iterations 5 --warmup 2 --min-duration 2 \
  ${OTHERS[@]+"${OTHERS[@]}"} --out "$results" --no-price

step "endpoint (transformers serve --continuous-batching, $PRESET shape, random weights)"
model=/tmp/gpucost-endpoint-model
gpucost 180 model init "$model" --preset "$PRESET" || echo "endpoint model build failed" | tee -a "$log"
gpucost 400 run -w text --server transformers --model "$model" --device "$DEVICE" \
  --concurrency "$LEVELS" --requests 128 --warmup-requests 4 --input-len 128 --output-len 64 \
  ${GPUS[@]+"${GPUS[@]}"} --request-timeout 120 --slo ttft_p99=0.5,tpot_p99=0.05 --find-max-load \
  --max-search-levels 2 --out "$results" --no-price

step "trace replay (real Azure conversation trace, 61 s) beside a fixed-length run at its mean lengths"
gpucost 300 run -w text --server transformers --model "$model" --device "$DEVICE" \
  --trace "$TRACE" "${REPLAY[@]}" --warmup-requests 4 ${GPUS[@]+"${GPUS[@]}"} \
  --request-timeout 120 --out "$results" --no-price
gpucost 300 run -w text --server transformers --model "$model" --device "$DEVICE" \
  --request-rate 3.3 --requests 200 "${FIXED[@]}" --warmup-requests 4 ${GPUS[@]+"${GPUS[@]}"} \
  --request-timeout 120 --out "$results" --no-price

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
        "idle_power_w", "peak_mem_allocated_bytes", "gpu_util_mean", "throttled", "gpu_name",
        "concurrency", "window_s", "output_tokens_per_s", "ttft_s_p50", "tpot_s_p50",
        "error_count", "slo_met", "goodput_output_tokens_per_s", "slo_max_load",
        "cost_factor_low", "cost_factor_high", "unstable", "client_workers", "client_cpu_util",
        "send_lag_s_p99", "client_bound", "trace_speedup", "input_len_p50", "output_len_p50",
        "cached_input_tokens", "cache_hit_rate", "server_generation_tokens"]
with pd.option_context("display.width", 300, "display.max_columns", 50):
    print(df[[c for c in cols if c in df.columns]].to_string(index=False))
errors = df[df["status"] != "ok"]
for _, row in errors.iterrows():
    print(f"{row['workload']} batch {row['batch_size']}: {row['status']}: {row['error']}")
PY

step "cost per unit of every run on the rate-card instances with this GPU"
for run in "$results"/*/; do
  timeout 120 python3 -m harness price "$run" >> "$OUT/prices.txt" 2>&1
  echo "price $(basename "$run") exit code: $?" | tee -a "$log"
done
