"""Names other parts and users' scripts rely on (see README "Results contract"). No heavy imports."""

from __future__ import annotations

from dataclasses import dataclass

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


# -- the typed declaration: every results column, its type, unit and whether it may be empty ----

@dataclass(frozen=True)
class Column:
    """One measurements.csv column. `kind` is "text", "int", "float" or "bool"; `unit` is the
    quantity's unit ("s", "J", "W", "bytes", "share", a unit of work, "" for none).

    A number's range: finite, at least `low` (above it when `low_open`; no bound when None) and
    at most `high` (None: no bound); an "int" is also whole. The reader refuses anything else."""

    name: str
    kind: str
    unit: str = ""
    nullable: bool = True
    low: float | None = 0.0
    high: float | None = None
    low_open: bool = False

    def range_text(self) -> str:
        """The declared range in words, for error lines: "a whole number >= 1", "a number in [0, 1]"."""
        what = "a whole number" if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None and not self.low_open:
            return f"{what} in [{self.low:g}, {self.high:g}]"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            bounds.append(f"<= {self.high:g}")
        return f"{what} {' and '.join(bounds)}".strip() if bounds else f"a finite {what[2:]}"


def _columns(kind: str, unit: str, *names: str, nullable: bool = True) -> tuple[Column, ...]:
    return tuple(Column(n, kind, unit, nullable) for n in names)


def _positive(name: str, kind: str, unit: str) -> Column:
    return Column(name, kind, unit, low=0.0, low_open=True)


_PERCENTILES = ("p50", "p90", "p99")

_UNITS: tuple[Column, ...] = (
    Column("input_tokens", "float", "tokens"),
    Column("output_tokens", "float", "tokens"),
    Column("images", "float", "images"),
    Column("audio_s", "float", "s"),
    Column("characters", "float", "characters"),
    Column("sequences", "float", "sequences"),
    Column("queries", "float", "queries"),
    Column("requests", "float", "requests"),
)

_CORE: tuple[Column, ...] = (
    *_columns("text", "", "run_id", "workload", nullable=False),
    *_columns("text", "", "preset", "model", "device", "gpu_name", "dtype"),
    Column("batch_size", "int", "requests", nullable=False, low=1.0),
    Column("status", "text", "", nullable=False),
    Column("error", "text"),
    Column("iterations", "int"),
    *_columns("float", "s", "wall_s_mean", "wall_s_p50", "wall_s_p90", "wall_s_p99"),
    Column("wall_s_cv", "float", "share"),  # a coefficient of variation: may exceed 1
    *_columns("float", "s", "gpu_s_p50", "prefill_s_p50", "decode_s_p50"),
    *_UNITS,
    Column("energy_j", "float", "J"),
    *_columns("float", "W", "avg_power_w", "idle_power_w"),
    *_columns("float", "bytes", "peak_mem_allocated_bytes", "peak_mem_reserved_bytes"),
    Column("gpu_util_mean", "float", "%", high=100.0),
    Column("throttled", "bool"),
)  # fmt: skip

_EXTRA: tuple[Column, ...] = (
    Column("unstable", "bool"),
    Column("energy_method", "text"),
    *_columns("float", "s", "gpu_s_mean", "ttft_s_p50", "tpot_s_p50"),
    Column("nvml_mem_used_bytes_max", "float", "bytes"),
    Column("sm_clock_mhz_mean", "float", "MHz"),
    Column("temperature_c_max", "float", "°C", low=None),
    Column("power_limit_w", "float", "W"),
    Column("warmup_iterations", "int"),
    Column("timed_s", "float", "s"),
    Column("engine", "text"),
    Column("compile_s", "float", "s"),
    Column("recompiles", "int"),
    Column("settings", "text", "json"),
    Column("counted_flops", "float", "FLOP"),
)

COLUMNS: tuple[Column, ...] = (
    *_CORE,
    *_EXTRA,
    # rows that are not in-process batches (endpoint, imported and sweep rows)
    Column("concurrency", "int", "requests", low=1.0),
    _positive("request_rate", "float", "requests/s"),
    _positive("window_s", "float", "s"),
    _positive("gpus_used", "float", "GPUs"),
    Column("requests_per_s", "float", "requests/s"),
    Column("input_tokens_per_s", "float", "tokens/s"),
    Column("output_tokens_per_s", "float", "tokens/s"),
    *(Column(f"{m}_s_{p}", "float", "s") for m in ("ttft", "tpot", "itl", "e2e")
      for p in _PERCENTILES if f"{m}_s_{p}" not in ("ttft_s_p50", "tpot_s_p50")),
    Column("output_tokens_per_s_per_user", "float", "tokens/s"),
    Column("error_count", "int", "requests"),
    Column("error_rate", "float", "share", high=1.0),
    Column("max_in_flight", "int", "requests"),
    Column("length_fields_accepted", "bool"),
    Column("output_len_honoured", "bool"),
    Column("usage_rejected_count", "int", "requests"),
    # prefix caching, from the server's usage.prompt_tokens_details.cached_tokens
    Column("cached_input_tokens", "int", "tokens"),
    Column("cache_hit_rate", "float", "share", high=1.0),
    # trace replays (`--trace`): see harness/traffic/
    Column("trace_speedup", "float", "x"),
    Column("trace_requests_per_s", "float", "requests/s"),
    Column("trace_clamped_requests", "int", "requests"),
    *(Column(f"{n}_len_{p}", "float", "tokens") for n in ("input", "output") for p in _PERCENTILES),
    # the load generator itself (harness/endpoint/workers.py): was the client the limit?
    Column("client_workers", "int", "processes"),
    Column("client_cpu_util", "float", "share"),
    Column("send_lag_s_p99", "float", "s"),
    Column("client_bound", "bool"),
    # what the server's own Prometheus counters say it did in the level (harness/endpoint/
    # server_metrics.py); empty for a server without /metrics
    *_columns("float", "tokens", "server_prompt_tokens", "server_generation_tokens",
              "server_cached_prompt_tokens"),
    *_columns("float", "requests", "server_requests_stop", "server_requests_length",
              "server_requests_abort", "server_requests_error", "server_preemptions"),
    *_columns("float", "s", "server_queue_s_sum", "server_prefill_s_sum", "server_decode_s_sum"),
    Column("server_token_mismatch", "text"),
    # rows measured or judged against an SLO (`--slo`): see harness/slo.py
    Column("slo", "text"),
    Column("slo_met", "bool"),
    Column("slo_max_load", "bool"),
    Column("good_requests", "int", "requests"),
    *(Column(f"goodput_{u.name}_per_s", "float", f"{u.unit}/s") for u in _UNITS),
    # the 95 % bootstrap interval of cost per unit, as multiples of its point estimate
    _positive("cost_factor_low", "float", "share"),
    _positive("cost_factor_high", "float", "share"),
    Column("cost_cv", "float", "share"),
)  # fmt: skip
"""Every declared measurements.csv column. Workload phase (`<phase>_s_p50`), settings and
plugin unit columns may follow; readers parse them as numbers when they look like numbers."""

MEASUREMENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in _CORE)
"""Core columns of measurements.csv, in order. Extra columns (phases, settings) follow them."""

EXTRA_MEASUREMENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in _EXTRA)
"""Columns every row has after the core ones; workload phase and setting columns come last."""

UNIT_COLUMNS: tuple[str, ...] = tuple(c.name for c in _UNITS)
"""Units of work per batch (one iteration). A workload fills the ones it has; the rest stay empty."""

COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

TEXT_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "text")
"""Read as text even when every value looks like a number (or every cell is empty)."""

NUMBER_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind in ("int", "float"))

BOOL_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "bool")
"""Written as true/false (or 1/0), empty when not known."""

ORDERED_COLUMNS: tuple[tuple[str, str], ...] = (
    *((f"{m}_s_{a}", f"{m}_s_{b}") for m in ("wall", "ttft", "tpot", "itl", "e2e")
      for a, b in (("p50", "p90"), ("p90", "p99"), ("p50", "p99"))),
    ("cost_factor_low", "cost_factor_high"),
    ("cached_input_tokens", "input_tokens"),  # a cache serves at most the prompt
)  # fmt: skip
"""Pairs (a, b) where a row's a can never exceed its b (percentiles of one series; an
interval's ends). Checked where a row has both."""
