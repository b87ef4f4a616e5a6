"""GuideLLM's JSON report (`guidellm run --output kind=json`; report schema version 2, GuideLLM
0.8): one load level per entry of `benchmarks`, one per strategy the profile ran.

The report (guidellm/benchmark/schemas/report.py, `GenerativeBenchmarksReport`) has
`metadata.version` (2) and `metadata.guidellm_version`; each benchmark has the strategy it ran
under `config.strategy` (`type_` synchronous, concurrent with `streams`, throughput, constant or
poisson with `rate`), its measured `duration` in seconds, and `metrics`
(guidellm/benchmark/schemas/metrics.py, `GenerativeMetrics`): `request_totals` by status and,
for each metric, a distribution per status (`successful`, `errored`, ...) with `mean`,
`total_sum`, `max` and `percentiles` (`p50`, `p90`, `p99`, ...). Units are in the names:
`*_ms` in milliseconds, `request_latency` in seconds. `inter_token_latency_ms` is per request
(last token − first token) / (output tokens − 1): gpucost's TPOT. The report has no
distribution of the gaps between streamed tokens, so `itl_s_*` stays empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.importers.base import (
    PERCENTILES,
    ImportedFile,
    Importer,
    Level,
    Reader,
    error_share,
    json_documents,
    read_bytes,
    sha256_of,
)

TOOL = "guidellm"
REPORT_VERSION = 2

LATENCY_METRICS: dict[str, tuple[str, str]] = {
    "ttft": ("time_to_first_token_ms", "ms"),
    "tpot": ("inter_token_latency_ms", "ms"),
    "e2e": ("request_latency", "s"),
}


class GuidellmImporter(Importer):
    summary = "GuideLLM JSON reports (`--output kind=json`; one level per benchmark)."

    def read(self, path: Path) -> ImportedFile:
        data = read_bytes(path)
        documents = json_documents(path, data)
        reader = Reader(path, "GuideLLM JSON report")
        report = reader.only_document(documents, "a GuideLLM report")
        metadata = report.get("metadata")
        if not isinstance(metadata, dict) or "version" not in metadata:
            raise reader.fail(
                f"no metadata.version (not a GuideLLM JSON report; expected report version "
                f"{REPORT_VERSION})"
            )
        if metadata["version"] != REPORT_VERSION or isinstance(metadata["version"], bool):
            raise reader.fail(
                f"GuideLLM report version {metadata['version']} is not one this reads "
                f"(expected {REPORT_VERSION})"
            )
        benchmarks = reader.sequence(report.get("benchmarks"), "benchmarks")
        if not benchmarks:
            raise reader.fail("benchmarks is empty (the report holds no load level)")
        model = _model(reader, report)
        levels = tuple(
            _level(reader, reader.mapping(b, f"benchmarks[{i}]"), f"benchmarks[{i}]", model)
            for i, b in enumerate(benchmarks)
        )
        return ImportedFile(
            path=path, sha256=sha256_of(data), tool=TOOL,
            version=reader.text(metadata.get("guidellm_version"), "metadata.guidellm_version"),
            schema_version=str(REPORT_VERSION), levels=levels,
        )  # fmt: skip


def _model(reader: Reader, report: Any) -> str | None:
    config = reader.mapping(report.get("config") or {}, "config")
    spec = reader.mapping(config.get("spec") or {}, "config.spec")
    backend = spec.get("backend") or {}
    model = backend.get("model") if isinstance(backend, dict) else None
    return model if isinstance(model, str) else None


def _successful(reader: Reader, metrics: Any, name: str, where: str) -> dict[str, Any] | None:
    """The successful requests' distribution of a metric, or None when the report has none."""
    value = metrics.get(name)
    if value is None:
        return None
    by_status = reader.mapping(value, f"{where}.{name}")
    found = by_status.get("successful")
    return None if found is None else dict(reader.mapping(found, f"{where}.{name}.successful"))


def _level(reader: Reader, benchmark: Any, where: str, model: str | None) -> Level:
    metrics = reader.mapping(benchmark.get("metrics"), f"{where}.metrics")
    at = f"{where}.metrics"
    totals = reader.mapping(metrics.get("request_totals"), f"{at}.request_totals")
    ok = reader.whole(totals.get("successful"), f"{at}.request_totals.successful")
    errored = reader.whole(totals.get("errored"), f"{at}.request_totals.errored")
    incomplete = reader.whole(totals.get("incomplete"), f"{at}.request_totals.incomplete")
    config = reader.mapping(benchmark.get("config") or {}, f"{where}.config")
    strategy = dict(reader.mapping(config.get("strategy"), f"{where}.config.strategy"))
    kind = strategy.get("type_")
    concurrency: int | None = None
    rate: float | None = None
    if kind == "synchronous":
        concurrency = 1
    elif kind == "concurrent":
        concurrency = reader.whole(strategy.get("streams"), f"{where}.config.strategy.streams")
    elif kind in ("constant", "poisson"):
        rate = reader.number(strategy.get("rate"), f"{where}.config.strategy.rate")
    window_s = reader.seconds(benchmark.get("duration"), "s", f"{where}.duration")

    def stat(name: str, key: str) -> float | None:
        found = _successful(reader, metrics, name, at)
        return (
            None
            if found is None
            else reader.number(found.get(key), f"{at}.{name}.successful.{key}")
        )

    values: dict[str, Any] = {
        "window_s": window_s,
        "requests": ok or None,
        "iterations": ok or 0,
        "input_tokens": stat("prompt_token_count", "total_sum") if ok else None,
        "output_tokens": stat("output_token_count", "total_sum") if ok else None,
        # GuideLLM's own throughput: the mean of its rate over the measured window
        "requests_per_s": stat("requests_per_second", "mean") if ok else None,
        "input_tokens_per_s": stat("prompt_tokens_per_second", "mean") if ok else None,
        "output_tokens_per_s": stat("output_tokens_per_second", "mean") if ok else None,
        "error_count": errored,
        "error_rate": error_share(errored, ok),
    }
    for name, (metric, unit) in LATENCY_METRICS.items():
        found = _successful(reader, metrics, metric, at) if ok else None
        percentiles = reader.mapping(
            (found or {}).get("percentiles") or {}, f"{at}.{metric}.successful.percentiles"
        )
        for q in PERCENTILES:
            values[f"{name}_s_p{q}"] = reader.seconds(
                percentiles.get(f"p{q}"), unit, f"{at}.{metric}.successful.percentiles.p{q}"
            )
    latency = _successful(reader, metrics, "request_latency", at) if ok else None
    values["wall_s_mean"] = reader.seconds(
        (latency or {}).get("mean"), "s", f"{at}.request_latency.successful.mean"
    )
    for q in PERCENTILES:
        values[f"wall_s_p{q}"] = values[f"e2e_s_p{q}"]
    in_flight = _all_statuses_max(reader, metrics, at)
    note = f"{errored} errored requests" if errored else None
    return Level(
        concurrency=concurrency,
        request_rate=rate,
        max_in_flight=in_flight,
        values=values,
        settings={"strategy": _without_level(strategy)},
        provenance={"benchmark_id": config.get("id_"),
                    "incomplete_requests": incomplete},
        model=model,
        note=note,
    )  # fmt: skip


def _all_statuses_max(reader: Reader, metrics: Any, at: str) -> int | None:
    """The most requests in flight at once, over every request of the level."""
    value = metrics.get("request_concurrency")
    if value is None:
        return None
    total = reader.mapping(value, f"{at}.request_concurrency").get("total")
    if not isinstance(total, dict):
        return None
    peak = reader.number(total.get("max"), f"{at}.request_concurrency.total.max")
    return int(peak) if peak else None


def _without_level(strategy: Any) -> Any:
    """The strategy's kind, without what differs level to level (streams, rate and worker
    counts; the concurrency or rate is in its own column): a sweep's levels are one work."""
    if not isinstance(strategy, dict):
        return strategy
    level = ("streams", "rate", "max_concurrency", "worker_count")
    return {k: v for k, v in strategy.items() if k not in level}
