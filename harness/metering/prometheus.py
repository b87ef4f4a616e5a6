"""The request meter's lines as Prometheus metrics (needs the `prometheus` extra).

    from harness.metering.prometheus import prometheus_sink
    meter = RequestMeter([open_request_log("requests.jsonl"), prometheus_sink()])

Counters per workload: requests (by status), units of work (by unit), wall, GPU and energy totals,
and a wall-time histogram. Expose them with `prometheus_client.start_http_server` as usual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import BadInput
from harness.metering.request_log import RequestRecord


@dataclass(frozen=True)
class PrometheusSink:
    """Metric objects the meter updates; build with `prometheus_sink()`."""

    requests_total: Any
    units_total: Any
    wall_seconds: Any
    gpu_seconds_total: Any
    energy_joules_total: Any

    def write(self, record: RequestRecord) -> None:
        workload = record.workload
        self.requests_total.labels(workload, record.status).inc()
        for unit, count in record.units.items():
            self.units_total.labels(workload, unit).inc(count)
        self.wall_seconds.labels(workload).observe(record.wall_s)
        if record.gpu_s is not None:
            self.gpu_seconds_total.labels(workload).inc(record.gpu_s)
        if record.energy_j is not None:
            self.energy_joules_total.labels(workload).inc(record.energy_j)

    def flush(self) -> None:
        """Metrics are live; nothing is buffered."""

    def close(self) -> None:
        """The registry outlives the meter; nothing to release."""


def prometheus_sink(registry: Any = None, namespace: str = "gpucost") -> PrometheusSink:
    """Register the metrics in `registry` (default: prometheus_client's global registry)."""
    try:
        import prometheus_client as prom
    except ImportError:
        raise BadInput(
            "Prometheus metrics need prometheus-client: pip install 'gpucost[prometheus]'"
        ) from None
    registry = prom.REGISTRY if registry is None else registry
    options: dict[str, Any] = {"namespace": namespace, "registry": registry}
    return PrometheusSink(
        requests_total=prom.Counter(
            "requests", "Inferences metered, by status", ["workload", "status"], **options
        ),
        units_total=prom.Counter(
            "units",
            "Units of work served (tokens, images, audio seconds...)",
            ["workload", "unit"],
            **options,
        ),
        wall_seconds=prom.Histogram(
            "request_wall_seconds", "Wall time per inference", ["workload"], **options
        ),
        gpu_seconds_total=prom.Counter(
            "gpu_seconds", "GPU time (CUDA events) spent on inferences", ["workload"], **options
        ),
        energy_joules_total=prom.Counter(
            "energy_joules", "GPU energy over inference windows", ["workload"], **options
        ),
    )
