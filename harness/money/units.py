"""Units of work each workload is priced per, and how each is counted from a measurement row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UnitSpec:
    """How one priced unit is read from a measurement row.

    `count_column` holds the units per batch; dividing by `count_divisor` turns it into the unit
    (audio seconds → audio minutes). `share` is which part of the batch cost the unit carries:
    "all", or the text phases "prefill" / "decode".
    """

    workload: str
    unit: str
    count_column: str
    count_divisor: float
    share: str
    display_scale: int
    display_name: str


UNIT_SPECS: tuple[UnitSpec, ...] = (
    UnitSpec("text", "input_token", "input_tokens", 1.0, "prefill", 1_000_000, "1M input tokens"),
    UnitSpec("text", "output_token", "output_tokens", 1.0, "decode", 1_000_000, "1M output tokens"),
    UnitSpec("text", "request", "requests", 1.0, "all", 1, "request"),
    UnitSpec("image", "image", "images", 1.0, "all", 1, "image"),
    UnitSpec("asr", "audio_minute", "audio_s", 60.0, "all", 1, "audio minute"),
    UnitSpec("tts", "character", "characters", 1.0, "all", 1_000_000, "1M characters"),
    UnitSpec("embedding", "token", "input_tokens", 1.0, "all", 1_000_000, "1M tokens"),
    UnitSpec("embedding", "sequence", "sequences", 1.0, "all", 1_000, "1K sequences"),
    UnitSpec("retrieval", "query", "queries", 1.0, "all", 1_000, "1K queries"),
)

UNITS_BY_WORKLOAD: dict[str, tuple[str, ...]] = {}
for _spec in UNIT_SPECS:
    UNITS_BY_WORKLOAD[_spec.workload] = (*UNITS_BY_WORKLOAD.get(_spec.workload, ()), _spec.unit)
del _spec

PRIMARY_UNIT: dict[str, str] = {
    "text": "output_token",
    "image": "image",
    "asr": "audio_minute",
    "tts": "character",
    "embedding": "token",
    "retrieval": "query",
}
"""The unit a workload is usually quoted per: it ranks instances and drives sensitivity tables."""

CALL_COLUMN_FALLBACK: dict[str, str] = {
    "image": "images",
    "embedding": "sequences",
    "retrieval": "queries",
}
"""One call of a service is one request; workloads without a `requests` count use this column."""

SCALES: dict[str, int] = {"1": 1, "1K": 1_000, "1M": 1_000_000}


def unit_spec(workload: str, unit: str) -> UnitSpec:
    for spec in UNIT_SPECS:
        if spec.workload == workload and spec.unit == unit:
            return spec
    raise KeyError(f"{workload}.{unit}")


def scale_label(scale: int) -> str:
    for label, value in SCALES.items():
        if value == scale:
            return label
    return str(scale)
