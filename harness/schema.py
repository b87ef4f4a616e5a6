"""Names other parts and users' scripts rely on (see README "Results contract"). No heavy imports."""

from __future__ import annotations

MEASUREMENT_COLUMNS: tuple[str, ...] = (
    "run_id",
    "workload",
    "preset",
    "model",
    "device",
    "gpu_name",
    "dtype",
    "batch_size",
    "status",
    "error",
    "iterations",
    "wall_s_mean",
    "wall_s_p50",
    "wall_s_p90",
    "wall_s_p99",
    "wall_s_cv",
    "gpu_s_p50",
    "prefill_s_p50",
    "decode_s_p50",
    "input_tokens",
    "output_tokens",
    "images",
    "audio_s",
    "characters",
    "sequences",
    "queries",
    "requests",
    "energy_j",
    "avg_power_w",
    "idle_power_w",
    "peak_mem_allocated_bytes",
    "peak_mem_reserved_bytes",
    "gpu_util_mean",
    "throttled",
)
"""Core columns of measurements.csv, in order. Extra columns (phases, settings) follow them."""

EXTRA_MEASUREMENT_COLUMNS: tuple[str, ...] = (
    "energy_method",
    "gpu_s_mean",
    "ttft_s_p50",
    "tpot_s_p50",
    "nvml_mem_used_bytes_max",
    "sm_clock_mhz_mean",
    "temperature_c_max",
    "power_limit_w",
    "warmup_iterations",
    "timed_s",
    "engine",
    "settings",
    "counted_flops",
)
"""Columns every row has after the core ones; workload phase and setting columns come last."""

UNIT_COLUMNS: tuple[str, ...] = (
    "input_tokens",
    "output_tokens",
    "images",
    "audio_s",
    "characters",
    "sequences",
    "queries",
    "requests",
)
"""Units of work per batch (one iteration). A workload fills the ones it has; the rest stay empty."""

STATUSES = ("ok", "oom", "error")

ITERATION_COLUMNS: tuple[str, ...] = (
    "run_id",
    "workload",
    "batch_size",
    "iteration",
    "wall_s",
    "gpu_s",
)
"""iterations.csv: one row per timed iteration; phase columns (`<phase>_s`) follow."""

SAMPLE_COLUMNS: tuple[str, ...] = (
    "run_id",
    "t_s",
    "workload",
    "batch_size",
    "power_w",
    "gpu_util_pct",
    "mem_util_pct",
    "mem_used_bytes",
    "sm_clock_mhz",
    "temperature_c",
    "clock_event_reasons",
    "throttled",
)
"""samples.csv: the background sampler's timeline. t_s is seconds since the run started."""
