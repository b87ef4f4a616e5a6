"""`vllm bench serve --save-result` files (vllm/benchmarks/serve.py): one JSON object per load
level; `--append-result` writes one more object per run into the same file, one per line.

Each object has the load (`request_rate`: a number or "inf"; `max_concurrency`: a number or
null; `burstiness`), `duration` in seconds, `completed` and `failed` requests, the totals
`total_input_tokens` and `total_output_tokens`, `request_throughput` and `output_throughput`
(per second), `max_concurrent_requests` (the most requests in flight), and for every metric
named by `--percentile-metrics` (default "ttft,tpot,itl") `mean_<m>_ms`, `median_<m>_ms`,
`std_<m>_ms` and `p<q>_<m>_ms` for every percentile of `--metric-percentiles` (default "99").
A percentile not asked for is not in the file, and stays empty here. `latencies` (seconds, one
per request, 0.0 for a failed one) is always written; the per-request lists `ttfts`, `itls`,
`errors`, ... only with `--save-detailed`. The file records no vLLM version.
When every request failed, vLLM writes 0 for each latency: those are not measurements.
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
    per_s,
    read_bytes,
    sha256_of,
)
from harness.stats import mean, percentile

TOOL = "vllm bench serve"
REQUIRED = ("duration", "completed", "total_input_tokens", "request_throughput", "request_rate")
METRICS = {"ttft": "ttft", "tpot": "tpot", "itl": "itl", "e2e": "e2el"}


class VllmImporter(Importer):
    summary = "`vllm bench serve --save-result` files (one level per result, --append-result too)."

    def read(self, path: Path) -> ImportedFile:
        data = read_bytes(path)
        reader = Reader(path, "vllm bench serve result")
        documents = json_documents(path, data)
        levels = []
        for number, document in enumerate(documents, start=1):
            where = "" if len(documents) == 1 else f"result {number}: "
            result = reader.mapping(document, where.rstrip(": ") or "the file")
            missing = [key for key in REQUIRED if key not in result]
            if "backend" not in result and "endpoint_type" not in result:
                missing.append("backend")
            if missing:
                raise reader.fail(
                    f"{where}not a `vllm bench serve --save-result` file (missing {', '.join(missing)})"
                )
            if "total_output_tokens" not in result:
                raise reader.fail(
                    f"{where}a pooling (embedding) result: only text generation results are read"
                )
            levels.append(_level(reader, result, where))
        return ImportedFile(
            path=path, sha256=sha256_of(data), tool=TOOL, version=None,
            schema_version=None, levels=tuple(levels),
        )  # fmt: skip


def _level(reader: Reader, result: Any, where: str) -> Level:
    def number(key: str) -> float | None:
        return reader.number(result.get(key), f"{where}{key}")

    ok = reader.whole(result.get("completed"), f"{where}completed") or 0
    failed = reader.whole(result.get("failed"), f"{where}failed")
    raw_rate = result.get("request_rate")
    rate = None if raw_rate in ("inf", float("inf")) else number("request_rate")
    concurrency = reader.whole(result.get("max_concurrency"), f"{where}max_concurrency")
    window_s = reader.seconds(result.get("duration"), "s", f"{where}duration")
    values: dict[str, Any] = {
        "window_s": window_s,
        "requests": ok or None,
        "iterations": ok,
        "input_tokens": number("total_input_tokens") if ok else None,
        "output_tokens": number("total_output_tokens") if ok else None,
        "requests_per_s": number("request_throughput") if ok else None,
        "output_tokens_per_s": number("output_throughput") if ok else None,
        "error_count": failed,
        "error_rate": error_share(failed, ok),
    }
    # vLLM prints no input throughput; its total token throughput counts the inputs as
    # total_input_tokens / duration, and so does this.
    values["input_tokens_per_s"] = per_s(values["input_tokens"], window_s)
    e2e_from = "e2el percentiles" if f"median_{METRICS['e2e']}_ms" in result else None
    for name, metric in METRICS.items():
        for q in PERCENTILES:
            key = f"median_{metric}_ms" if q == 50 else f"p{q}_{metric}_ms"
            value = result.get(key) if ok else None
            values[f"{name}_s_p{q}"] = reader.seconds(value, "ms", f"{where}{key}")
    values["wall_s_mean"] = (
        reader.seconds(result.get("mean_e2el_ms"), "ms", f"{where}mean_e2el_ms") if ok else None
    )
    if ok and e2e_from is None:
        e2e_from = _e2e_from_latencies(reader, result, values, ok, where)
    for q in PERCENTILES:
        values[f"wall_s_p{q}"] = values[f"e2e_s_p{q}"]
    peak = reader.number(result.get("max_concurrent_requests"), f"{where}max_concurrent_requests")
    note = f"{failed} failed requests" if failed else None
    settings = {
        key: result.get(key)
        # what differs level to level (prompts, rate, concurrency) is in its own columns
        for key in ("backend", "burstiness")
        if key in result
    }
    provenance = {key: result.get(key) for key in ("date", "label") if key in result}
    provenance["e2e_from"] = e2e_from
    return Level(
        concurrency=concurrency,
        request_rate=rate,
        max_in_flight=int(peak) if peak else None,
        values=values,
        settings=settings,
        provenance=provenance,
        model=reader.text(result.get("model_id"), f"{where}model_id"),
        note=note,
    )


def _e2e_from_latencies(
    reader: Reader, result: Any, values: dict[str, Any], ok: int, where: str
) -> str | None:
    """End-to-end percentiles from the per-request `latencies` the file always holds, when the
    run did not ask for e2el ones: the successful requests are those with a latency above 0
    (vLLM leaves a failed request's at 0.0), and their count must be `completed`. The
    percentiles are numpy's linear ones, as vLLM computes its own."""
    raw = result.get("latencies")
    if raw is None:
        return None
    latencies = [
        reader.number(v, f"{where}latencies[{i}]")
        for i, v in enumerate(reader.sequence(raw, f"{where}latencies"))
    ]
    served = [v for v in latencies if v]
    if len(served) != ok:
        return None
    for q in PERCENTILES:
        values[f"e2e_s_p{q}"] = percentile(served, q)
    values["wall_s_mean"] = mean(served)
    return "latencies"
