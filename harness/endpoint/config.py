"""What an endpoint run is asked to do: the endpoint, the requests, the load levels."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.errors import BadInput

APIS = ("completions", "chat")
ENDPOINT_WORKLOADS = ("text", "embedding")


@dataclass(frozen=True)
class LoadLevel:
    """Closed loop (`concurrency` requests always in flight) or open loop (`request_rate` per
    second, inf = all at once)."""

    concurrency: int | None = None
    request_rate: float | None = None

    @property
    def label(self) -> str:
        if self.concurrency is not None:
            return f"c{self.concurrency}"
        return f"r{self.request_rate:g}"


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    workload: str
    api: str
    model: str | None
    levels: tuple[LoadLevel, ...]
    input_len: int = 128
    output_len: int = 128
    seq_len: int = 128
    requests: int | None = None
    duration_s: float | None = None
    warmup_requests: int = 1
    request_timeout_s: float = 60.0
    burstiness: float = 1.0
    seed: int = 0
    tokenizer: str | None = None
    dataset: str | None = None
    gpus: tuple[int, ...] | None = None
    gpus_used: int | None = None
    gpu: str | None = None
    sample_interval_s: float | None = 0.1
    server_cmd: tuple[str, ...] | None = None
    slo: str | None = None
    """canonical `--slo` text (harness.slo.Slo.text); None without an SLO"""
    find_max_load: bool = False
    max_search_levels: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["levels"] = [asdict(level) for level in self.levels]
        return data


def parse_concurrency(text: str) -> tuple[LoadLevel, ...]:
    levels = []
    for part in _parts("--concurrency", text):
        try:
            value = int(part)
        except ValueError:
            raise BadInput(f"--concurrency {text!r}: {part!r} is not a whole number") from None
        if value < 1:
            raise BadInput(f"--concurrency {text!r}: {value} must be >= 1")
        levels.append(LoadLevel(concurrency=value))
    return tuple(levels)


def parse_request_rate(text: str) -> tuple[LoadLevel, ...]:
    levels = []
    for part in _parts("--request-rate", text):
        try:
            value = float(part)
        except ValueError:
            raise BadInput(f"--request-rate {text!r}: {part!r} is not a number or inf") from None
        if math.isnan(value) or value <= 0:
            raise BadInput(f"--request-rate {text!r}: {part} must be > 0 (or inf)")
        levels.append(LoadLevel(request_rate=value))
    return tuple(levels)


def parse_gpus(text: str) -> tuple[int, ...]:
    values = []
    for part in _parts("--gpus", text):
        if not part.isdigit():
            raise BadInput(f"--gpus {text!r}: {part!r} is not a GPU index")
        values.append(int(part))
    return tuple(dict.fromkeys(values))


def _parts(flag: str, text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise BadInput(f"{flag} {text!r}: give at least one value")
    return parts
