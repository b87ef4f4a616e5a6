"""What an endpoint run is asked to do: the endpoint, the requests, the load levels."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.credentials import redact_argv
from harness.errors import BadInput

APIS = ("completions", "chat")
ENDPOINT_WORKLOADS = ("text", "embedding")


@dataclass(frozen=True)
class LoadLevel:
    """Closed loop (`concurrency` requests always in flight), open loop (`request_rate` per
    second, inf = all at once), or a trace replayed `trace_speedup` times faster."""

    concurrency: int | None = None
    request_rate: float | None = None
    trace_speedup: float | None = None

    @property
    def label(self) -> str:
        if self.concurrency is not None:
            return f"c{self.concurrency}"
        if self.trace_speedup is not None:
            return f"x{self.trace_speedup:g}"
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
    trace: str | None = None
    """a trace file to replay (harness/traffic); the levels are then speed-ups"""
    trace_format: str | None = None
    trace_start_s: float | None = None
    trace_duration_s: float | None = None
    trace_requests: int | None = None
    trace_strict: bool = False
    max_input_len: int | None = None
    max_output_len: int | None = None
    """inputs longer than this are cut to it (recorded in the row), e.g. for a small model"""
    shared_prefix_len: int = 0
    turns: int = 1
    """> 1: synthetic chat, each turn resending the conversation so far (harness/traffic)"""
    workers: int | None = None
    """load-generator processes per level; None = enough for the level (workers.default_workers)"""
    extra: dict[str, Any] = field(default_factory=dict)
    auth_headers: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Sent with every request; never stored (as_dict leaves it out) nor printed."""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["auth_headers"]
        data["levels"] = [asdict(level) for level in self.levels]
        if self.server_cmd is not None:
            data["server_cmd"] = redact_argv(self.server_cmd)
        return data


MAX_CONCURRENCY = 10_000
"""Most requests in flight at once: each is a task and a connection of this process."""
MIN_REQUEST_RATE = 0.001
MAX_REQUEST_RATE = 1_000_000.0
_WHOLE = re.compile(r"[0-9]+")
_RATE = re.compile(r"(?i)([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[+-]?[0-9]+)?|inf")


def parse_concurrency(text: str) -> tuple[LoadLevel, ...]:
    levels = []
    for part in _parts("--concurrency", text):
        if not _WHOLE.fullmatch(part):
            raise BadInput(f"--concurrency {text!r}: {part!r} is not a whole number")
        value = int(part)
        if not 1 <= value <= MAX_CONCURRENCY:
            raise BadInput(f"--concurrency {text!r}: {value} must be from 1 to {MAX_CONCURRENCY}")
        levels.append(LoadLevel(concurrency=value))
    return _distinct("--concurrency", text, levels)


def parse_request_rate(text: str) -> tuple[LoadLevel, ...]:
    levels = []
    for part in _parts("--request-rate", text):
        if not _RATE.fullmatch(part):
            raise BadInput(f"--request-rate {text!r}: {part!r} is not a number or inf")
        value = float(part)
        if math.isinf(value) and part.lower() != "inf":
            raise BadInput(f"--request-rate {text!r}: {part[:20]!r} is too large (write inf)")
        if value <= 0:
            raise BadInput(f"--request-rate {text!r}: {part} must be > 0 (or inf)")
        if not math.isinf(value) and not MIN_REQUEST_RATE <= value <= MAX_REQUEST_RATE:
            raise BadInput(
                f"--request-rate {text!r}: {part} must be from {MIN_REQUEST_RATE:g} to "
                f"{MAX_REQUEST_RATE:g} requests/s (or inf)"
            )
        levels.append(LoadLevel(request_rate=value))
    return _distinct("--request-rate", text, levels)


def _distinct(flag: str, text: str, levels: list[LoadLevel]) -> tuple[LoadLevel, ...]:
    """A level given twice would make two rows of one batch size, which pricing refuses."""
    seen: set[LoadLevel] = set()
    for level in levels:
        if level in seen:
            raise BadInput(f"{flag} {text!r}: {level.label[1:]} is given twice")
        seen.add(level)
    return tuple(levels)


def parse_trace_speedup(text: str) -> tuple[LoadLevel, ...]:
    levels = []
    for part in _parts("--trace-speedup", text):
        try:
            value = float(part)
        except ValueError:
            raise BadInput(f"--trace-speedup {text!r}: {part!r} is not a number") from None
        if not (math.isfinite(value) and value > 0):
            raise BadInput(f"--trace-speedup {text!r}: {part} must be a finite number > 0")
        levels.append(LoadLevel(trace_speedup=value))
    return tuple(levels)


def parse_gpus(text: str) -> tuple[int, ...]:
    values = []
    for part in _parts("--gpus", text):
        if not part.isdigit():
            raise BadInput(f"--gpus {text!r}: {part!r} is not a GPU index")
        values.append(int(part))
    return tuple(dict.fromkeys(values))


def _parts(flag: str, text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",")]
    if not any(parts):
        raise BadInput(f"{flag} {text!r}: give at least one value")
    if not all(parts):
        raise BadInput(f"{flag} {text!r}: an empty value between commas")
    return parts
