"""What the server says it did in a level: its Prometheus `/metrics` counters read at the level's
start and end, through one table per engine that maps its own metric names to gpucost's
`server_*` columns. A server without `/metrics` (or one whose names no table knows) leaves the
columns empty. The counts are compared with the client's: a gap beyond 1 % is a warning on the
row (`server_token_mismatch`)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

SCRAPE_TIMEOUT_S = 5.0
MAX_SCRAPE_BYTES = 16 * 1024 * 1024
"""A /metrics page larger than this is not read (a hostile or broken server)."""
MISMATCH_SHARE = 0.01

COLUMNS = (
    "server_prompt_tokens", "server_generation_tokens", "server_cached_prompt_tokens",
    "server_requests_stop", "server_requests_length", "server_requests_abort",
    "server_requests_error", "server_preemptions", "server_queue_s_sum", "server_prefill_s_sum",
    "server_decode_s_sum",
)  # fmt: skip


@dataclass(frozen=True)
class Series:
    """One metric, and the labels a sample must carry to count (other labels are summed over)."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.labels)


@dataclass(frozen=True)
class EngineMetrics:
    """One engine's names: `marker` is a metric only that engine exposes."""

    engine: str
    marker: str
    columns: Mapping[str, Series]


def _reason(metric: str, label: str, value: str) -> Series:
    return Series(metric, ((label, value),))


VLLM = EngineMetrics(
    "vllm",
    "vllm:generation_tokens_total",
    {
        "server_prompt_tokens": Series("vllm:prompt_tokens_total"),
        "server_generation_tokens": Series("vllm:generation_tokens_total"),
        "server_cached_prompt_tokens": Series("vllm:prompt_tokens_cached_total"),
        "server_requests_stop": _reason("vllm:request_success_total", "finished_reason", "stop"),
        "server_requests_length": _reason(
            "vllm:request_success_total", "finished_reason", "length"
        ),
        "server_requests_abort": _reason(
            "vllm:request_success_total", "finished_reason", "abort"
        ),
        "server_requests_error": _reason(
            "vllm:request_success_total", "finished_reason", "error"
        ),
        "server_preemptions": Series("vllm:num_preemptions_total"),
        "server_queue_s_sum": Series("vllm:request_queue_time_seconds_sum"),
        "server_prefill_s_sum": Series("vllm:request_prefill_time_seconds_sum"),
        "server_decode_s_sum": Series("vllm:request_decode_time_seconds_sum"),
    },
)
"""vLLM (V1 engine); names as its /metrics shows them (docs: Production Metrics)."""

SGLANG = EngineMetrics(
    "sglang",
    "sglang:generation_tokens_total",
    {
        "server_prompt_tokens": Series("sglang:prompt_tokens_total"),
        "server_generation_tokens": Series("sglang:generation_tokens_total"),
        "server_cached_prompt_tokens": Series("sglang:cached_tokens_total"),
        "server_requests_abort": Series("sglang:num_aborted_requests_total"),
        "server_queue_s_sum": Series("sglang:queue_time_seconds_sum"),
    },
)
"""SGLang with --enable-metrics (docs.sglang.io, references/production_metrics): it counts
aborted requests but not finishes by reason, nor preemptions or prefill/decode time sums."""

TGI = EngineMetrics(
    "tgi",
    "tgi_request_generated_tokens_sum",
    {
        "server_prompt_tokens": Series("tgi_request_input_length_sum"),
        "server_generation_tokens": Series("tgi_request_generated_tokens_sum"),
        "server_requests_error": Series("tgi_request_failure"),
        "server_queue_s_sum": Series("tgi_request_queue_duration_sum"),
        "server_prefill_s_sum": _reason("tgi_batch_forward_duration_sum", "method", "prefill"),
        "server_decode_s_sum": _reason("tgi_batch_forward_duration_sum", "method", "decode"),
    },
)
"""Text Generation Inference (huggingface.co/docs/text-generation-inference, reference/metrics):
token counts are the sums of its per-request histograms; its forward durations are per batch."""

ENGINES = (VLLM, SGLANG, TGI)

_SAMPLE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?\s*$")
_LABEL = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')


def parse_exposition(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by metric name from Prometheus text exposition; lines that are not well-formed
    samples, and values that are not finite numbers, are skipped."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        name, _, label_text, value_text = match.group(1, 2, 3, 4)
        try:
            value = float(value_text)
        except ValueError:
            continue
        if not math.isfinite(value):
            continue
        labels = dict(_LABEL.findall(label_text or ""))
        samples.setdefault(name, []).append((labels, value))
    return samples


@dataclass(frozen=True)
class Scrape:
    engine: EngineMetrics
    values: dict[str, float | None]


def metrics_url(base_url: str) -> str:
    """/metrics at the server's root: the API's base URL without its `/v1`."""
    root = base_url.rstrip("/")
    return (root[: -len("/v1")] if root.endswith("/v1") else root) + "/metrics"


def scrape(base_url: str, headers: Mapping[str, str] | None = None) -> Scrape | None:
    """The server's counters now, or None when it has no /metrics that an engine table knows."""
    try:
        with httpx.Client(
            timeout=SCRAPE_TIMEOUT_S, trust_env=False, headers=dict(headers or {})
        ) as client:
            response = client.get(metrics_url(base_url))
    except httpx.HTTPError:
        return None
    if response.status_code != 200 or len(response.content) > MAX_SCRAPE_BYTES:
        return None
    return read_scrape(response.text)


def read_scrape(text: str) -> Scrape | None:
    samples = parse_exposition(text)
    for engine in ENGINES:
        if engine.marker in samples:
            values: dict[str, float | None] = {}
            for column, series in engine.columns.items():
                found = [v for labels, v in samples.get(series.name, ()) if series.matches(labels)]
                values[column] = sum(found) if found else None
            return Scrape(engine, values)
    return None


def level_columns(
    before: Scrape | None, after: Scrape | None, client: Mapping[str, Any]
) -> dict[str, Any]:
    """The `server_*` columns of a level: each counter's increase from `before` to `after`
    (empty where either read lacks it, or where it went down: the server restarted), and the
    warning where the server's token counts and the client's differ by more than 1 %."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row["server_token_mismatch"] = None
    if before is None or after is None or before.engine != after.engine:
        return row
    for column in COLUMNS:
        start, end = before.values.get(column), after.values.get(column)
        if start is not None and end is not None and end >= start:
            row[column] = end - start
    gaps = []
    for column, client_column, what in (
        ("server_prompt_tokens", "input_tokens", "prompt"),
        ("server_generation_tokens", "output_tokens", "generation"),
    ):
        server, mine = row[column], client.get(client_column)
        if server is None or mine is None:
            continue
        if abs(server - mine) > MISMATCH_SHARE * max(mine, 1):
            gaps.append(f"{what} tokens: server {server:g}, client {mine:g}")
    row["server_token_mismatch"] = "; ".join(gaps) or None
    return row
