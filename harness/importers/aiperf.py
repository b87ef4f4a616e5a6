"""NVIDIA AIPerf's `profile_export_aiperf.json` (schema_version 1.x, AIPerf 0.x): one file is one
load level.

The export (aiperf/common/models/export_models.py, `JsonExportData`) holds each metric as
`{unit, avg, p1 ... p99, min, max, std, count, sum}` in its display unit (latencies in "ms",
the benchmark duration in "sec", rates in "requests/sec" and "tokens/sec", the error rate in
"%"), the run's configuration under `input_config` (the profiling phase: its `type`
"concurrency" with `concurrency`, or "poisson"/"constant" with `rate`) and the failed
requests under `error_summary`. Metrics are of successful requests; `error_request_count` is
left out of a clean run (its absence means none failed).
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

TOOL = "aiperf"
SCHEMA_MAJOR = "1"

LATENCY_METRICS = {
    "ttft": "time_to_first_token",
    "tpot": "inter_token_latency",  # (latency - TTFT) / (OSL - first chunk's tokens), per request
    "itl": "inter_chunk_latency",  # every gap between streamed chunks
    "e2e": "request_latency",
}


class AiperfImporter(Importer):
    summary = "NVIDIA AIPerf profile_export_aiperf.json files (one load level each)."

    def read(self, path: Path) -> ImportedFile:
        data = read_bytes(path)
        documents = json_documents(path, data)
        reader = Reader(path, "profile_export_aiperf.json")
        export = reader.only_document(documents, "an AIPerf export")
        schema = export.get("schema_version")
        if schema is None:
            raise reader.fail(
                f"no schema_version (not an AIPerf profile_export_aiperf.json; expected "
                f"schema_version {SCHEMA_MAJOR}.x)"
            )
        if not isinstance(schema, str) or schema.split(".")[0] != SCHEMA_MAJOR:
            raise reader.fail(
                f"AIPerf schema_version {schema} is not one this reads (expected {SCHEMA_MAJOR}.x)"
            )
        version = reader.text(export.get("aiperf_version"), "aiperf_version")
        return ImportedFile(
            path=path, sha256=sha256_of(data), tool=TOOL, version=version,
            schema_version=schema, levels=(_level(reader, export),),
        )  # fmt: skip


def _metric(reader: Reader, export: Any, name: str) -> dict[str, Any] | None:
    value = export.get(name)
    if value is None:
        return None
    metric = reader.mapping(value, name)
    if not isinstance(metric.get("unit"), str):
        raise reader.fail(f"{name} has no unit (not an AIPerf metric)")
    return dict(metric)


def _scalar(reader: Reader, export: Any, name: str, unit: str) -> float | None:
    """A metric's `avg` (the value of a scalar metric), checked to be in `unit`."""
    metric = _metric(reader, export, name)
    if metric is None:
        return None
    if metric["unit"] != unit:
        raise reader.fail(f"{name} is in {metric['unit']!r}, not {unit!r} as this expects")
    return reader.number(metric.get("avg"), f"{name}.avg")


def _seconds(reader: Reader, export: Any, name: str, stat: str) -> float | None:
    metric = _metric(reader, export, name)
    if metric is None:
        return None
    return reader.seconds(metric.get(stat), metric["unit"], f"{name}.{stat}")


def _phase(reader: Reader, export: Any) -> dict[str, Any]:
    """The profiling phase of `input_config`: how the load was offered."""
    config = export.get("input_config")
    if config is None:
        return {}
    phases = reader.mapping(config, "input_config").get("phases") or []
    for phase in reader.sequence(phases, "input_config.phases"):
        phase = reader.mapping(phase, "input_config.phases[]")
        if phase.get("kind", phase.get("name")) == "profiling":
            return dict(phase)
    return {}


def _model(reader: Reader, export: Any) -> str | None:
    config = reader.mapping(export.get("input_config") or {}, "input_config")
    models = reader.mapping(config.get("models") or {}, "input_config.models")
    items = reader.sequence(models.get("items") or [], "input_config.models.items")
    names = [i.get("name") for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)]
    return ",".join(names) or None


def _level(reader: Reader, export: Any) -> Level:
    phase = _phase(reader, export)
    kind = phase.get("type")
    concurrency = reader.whole(phase.get("concurrency"), "input_config.phases.concurrency")
    rate = reader.number(phase.get("rate"), "input_config.phases.rate")
    closed = kind == "concurrency" or (rate is None and concurrency is not None)
    duration_s = _seconds(reader, export, "benchmark_duration", "avg")
    successful = _scalar(reader, export, "request_count", "requests")
    errors = _scalar(reader, export, "error_request_count", "requests")
    if errors is None and successful is not None:
        errors = 0.0  # AIPerf leaves the error count out of a run without errors
    ok = _count(reader, successful, "request_count.avg")
    failed = _count(reader, errors, "error_request_count.avg")
    values: dict[str, Any] = {
        "window_s": duration_s,
        "requests": ok or None,
        "iterations": ok or 0,
        "input_tokens": _scalar(reader, export, "total_isl", "tokens"),
        "output_tokens": _scalar(reader, export, "total_osl", "tokens"),
        "requests_per_s": _scalar(reader, export, "request_throughput", "requests/sec"),
        "input_tokens_per_s": _scalar(reader, export, "input_token_throughput", "tokens/sec"),
        "output_tokens_per_s": _scalar(reader, export, "output_token_throughput", "tokens/sec"),
        "error_count": failed,
        "error_rate": error_share(failed, ok),
    }
    percent = _scalar(reader, export, "request_error_rate", "%")
    if percent is not None:
        values["error_rate"] = percent / 100  # AIPerf's own rate, in % of completed requests
    per_user = _metric(reader, export, "output_token_throughput_per_user")
    if per_user is not None:
        if per_user["unit"] != "tokens/sec/user":
            raise reader.fail(
                f"output_token_throughput_per_user is in {per_user['unit']!r}, not 'tokens/sec/user'"
            )
        values["output_tokens_per_s_per_user"] = reader.number(
            per_user.get("p50"), "output_token_throughput_per_user.p50"
        )
    for name, metric in LATENCY_METRICS.items():
        for q in PERCENTILES:
            values[f"{name}_s_p{q}"] = _seconds(reader, export, metric, f"p{q}")
    values["wall_s_mean"] = _seconds(reader, export, "request_latency", "avg")
    for q in PERCENTILES:
        values[f"wall_s_p{q}"] = values[f"e2e_s_p{q}"]
    peak = _metric(reader, export, "effective_concurrency")
    max_in_flight = None
    if peak is not None and peak.get("max") is not None:
        max_in_flight = (
            int(reader.number(peak.get("max"), "effective_concurrency.max") or 0) or None
        )
    notes = []
    if export.get("is_complete") is False or export.get("was_cancelled") is True:
        reason = export.get("incomplete_reason") or (
            "cancelled" if export.get("was_cancelled") else "incomplete"
        )
        notes.append(f"AIPerf marked the run incomplete ({reason})")
    summary = export.get("error_summary") or []
    kinds = [
        f"{e.get('count')}× {_error_type(e.get('error_details'))}"
        for e in reader.sequence(summary, "error_summary")
        if isinstance(e, dict)
    ]
    if kinds:
        notes.append("; ".join(kinds))
    return Level(
        concurrency=concurrency if closed else None,
        request_rate=None if closed else rate,
        max_in_flight=max_in_flight,
        values=values,
        settings={"phase": _without_level(phase)},
        provenance={"benchmark_id": export.get("benchmark_id")},
        model=_model(reader, export),
        note="; ".join(notes) or None,
    )


def _count(reader: Reader, value: float | None, where: str) -> int | None:
    """A request count: whole (a count of 11.5 requests is a tampered or broken export)."""
    if value is None:
        return None
    if value != int(value):
        raise reader.fail(f"{where} is {value:g}, not a whole number of requests")
    return int(value)


def _error_type(details: Any) -> str:
    """The error's kind for the level's note; AIPerf writes a mapping with `type`."""
    if isinstance(details, dict) and isinstance(details.get("type"), str):
        return details["type"][:80]
    return "error"


def _without_level(phase: Any) -> Any:
    """The phase's load kind, without what differs level to level (the concurrency or rate is in
    its own column; the request count is the level's size): the levels of one sweep are one work."""
    if not isinstance(phase, dict):
        return phase
    return {k: v for k, v in phase.items() if k not in ("concurrency", "rate", "requests")}
