"""Demand per step and size class: from a trace's requests, or an hourly profile and a length mix.

A step is the scaling granularity (`--step`, default one hour): the planner holds a fleet per
step, sized for the step's mean rate. A size class is one bucket of the capacity table; each
request goes to the tightest bucket that holds it (buckets sorted by input bound, then output
bound). Requests that no bucket holds are never dropped: they are counted and refused.

`--growth X` multiplies every rate; `--horizon` repeats the steps (a day's profile to 30 days)
or cuts them short.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from harness.errors import BadInput
from harness.planning.capacity import bucket_text

Bucket = tuple[int | None, int | None]

MAX_PROFILE_BYTES = 50_000_000
MAX_STEPS = 100_000
"""Over eleven years of hourly steps: more is a mistake in --step or --horizon."""

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|min|h|d|w)?\s*", re.IGNORECASE)
_SECONDS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class RequestLike(Protocol):
    arrival_s: float
    input_len: int
    output_len: int | None


@dataclass(frozen=True)
class Demand:
    """`rates[t, c]`: requests/s of class `classes[c]` in step t (mean over the step)."""

    classes: tuple[Bucket, ...]
    rates: np.ndarray
    step_s: float
    input_tokens_per_request: float | None
    output_tokens_per_request: float | None
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def steps(self) -> int:
        return int(self.rates.shape[0])

    @property
    def horizon_h(self) -> float:
        return self.steps * self.step_s / 3600.0

    @property
    def requests(self) -> float:
        return float(self.rates.sum() * self.step_s)

    def tokens(self, which: str) -> float | None:
        per = self.input_tokens_per_request if which == "input" else self.output_tokens_per_request
        return None if per is None else per * self.requests


def parse_duration_s(text: str, option: str) -> float:
    """`1h`, `30m`, `7d`, `1w`, `3600` (seconds) → seconds; BadInput naming the option."""
    match = _DURATION.fullmatch(text or "")
    if match is None:
        raise BadInput(f"{option} {text!r}: expected a duration such as 1h, 30m, 7d or 1w")
    value = float(match[1]) * _SECONDS[(match[2] or "s").lower()]
    if not math.isfinite(value) or value <= 0:
        raise BadInput(f"{option} {text!r}: must be a positive duration")
    return value


def class_of(classes: Sequence[Bucket], input_len: float, output_len: float) -> int | None:
    """Index of the tightest class holding the request (classes come tightest first)."""
    for index, (in_max, out_max) in enumerate(classes):
        if (in_max is None or input_len <= in_max) and (out_max is None or output_len <= out_max):
            return index
    return None


def _shape(
    rates: np.ndarray, step_s: float, horizon_s: float | None, growth: float
) -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    if not math.isfinite(growth) or growth <= 0:
        raise BadInput(f"--growth {growth:g}: must be a positive factor (1.5 = 50 % more)")
    if horizon_s is not None:
        steps = max(1, round(horizon_s / step_s))
        if steps > MAX_STEPS:
            raise BadInput(f"--horizon: {steps:,} steps is too many (at most {MAX_STEPS:,})")
        have = rates.shape[0]
        if steps > have:
            repeats = math.ceil(steps / have)
            notes.append(f"the traffic's {have} steps repeated to fill the horizon of {steps}")
            rates = np.tile(rates, (repeats, 1))
        rates = rates[:steps]
    if growth != 1:
        notes.append(f"volume scaled by --growth {growth:g}")
    return rates * growth, notes


def demand_from_requests(
    requests: Iterable[RequestLike],
    classes: Sequence[Bucket],
    *,
    step_s: float = 3600.0,
    horizon_s: float | None = None,
    growth: float = 1.0,
    source: str = "trace",
) -> Demand:
    """Demand from a trace's requests (arrival_s in seconds, lengths in tokens)."""
    arrivals: list[float] = []
    kinds: list[int] = []
    unservable: list[tuple[float, float, float]] = []
    input_total = output_total = 0.0
    count = 0
    for req in requests:
        arrival = float(req.arrival_s)
        in_len = float(req.input_len)
        out_len = 0.0 if req.output_len is None else float(req.output_len)
        if not (math.isfinite(arrival) and math.isfinite(in_len) and math.isfinite(out_len)):
            raise BadInput(f"{source}: request #{count + 1} has a non-finite time or length")
        if in_len < 0 or out_len < 0:
            raise BadInput(f"{source}: request #{count + 1} has a negative length")
        count += 1
        kind = class_of(classes, in_len, out_len)
        if kind is None:
            unservable.append((arrival, in_len, out_len))
            continue
        arrivals.append(arrival)
        kinds.append(kind)
        input_total += in_len
        output_total += out_len
    if count == 0:
        raise BadInput(f"{source}: no requests in the window to plan for")
    if unservable:
        _refuse_unservable(unservable, count, classes, source)
    times = np.asarray(arrivals)
    start = times.min()
    span = times.max() - start
    steps = max(1, math.ceil(span / step_s - 1e-9))
    if steps > MAX_STEPS:
        raise BadInput(f"--step: {steps:,} steps is too many (at most {MAX_STEPS:,})")
    index = np.minimum(((times - start) // step_s).astype(int), steps - 1)
    counts = np.zeros((steps, len(classes)))
    np.add.at(counts, (index, np.asarray(kinds)), 1.0)
    # A last step the trace only partly covers is a rate over the part covered, not diluted.
    covered = np.full(steps, step_s)
    covered[-1] = max(span - (steps - 1) * step_s, 1.0)
    rates, notes = _shape(counts / covered[:, None], step_s, horizon_s, growth)
    if covered[-1] < step_s:
        notes.append(
            f"the trace's last step covers {covered[-1]:.0f} s of {step_s:.0f}: its rate is "
            "taken over the part covered"
        )
    return Demand(
        classes=tuple(classes),
        rates=rates,
        step_s=step_s,
        input_tokens_per_request=input_total / len(arrivals),
        output_tokens_per_request=output_total / len(arrivals),
        source=source,
        notes=notes,
    )


def _refuse_unservable(
    unservable: list[tuple[float, float, float]], count: int, classes: Sequence[Bucket], source: str
) -> None:
    largest_in = max(u[1] for u in unservable)
    largest_out = max(u[2] for u in unservable)
    first = ", ".join(f"t={a:.1f}s in {i:.0f} out {o:.0f}" for a, i, o in sorted(unservable)[:3])
    raise BadInput(
        f"{source}: {len(unservable):,} of {count:,} requests fit no bucket of the capacity "
        f"table (largest: in {largest_in:.0f}, out {largest_out:.0f} tokens; buckets: "
        f"{', '.join(bucket_text(c) for c in classes)}; first: {first}); measure a larger "
        "bucket or narrow the trace"
    )


@dataclass(frozen=True)
class LengthMix:
    """Share of requests per class, and mean tokens per request."""

    shares: np.ndarray
    input_tokens_per_request: float
    output_tokens_per_request: float
    source: str


def mix_from_requests(
    requests: Iterable[RequestLike], classes: Sequence[Bucket], source: str
) -> LengthMix:
    demand = demand_from_requests(requests, classes, step_s=1e12, source=source)
    totals = demand.rates.sum(axis=0)
    return LengthMix(
        totals / totals.sum(),
        demand.input_tokens_per_request or 0.0,
        demand.output_tokens_per_request or 0.0,
        source,
    )


def mix_from_lengths(input_len: int, output_len: int, classes: Sequence[Bucket]) -> LengthMix:
    if input_len < 1 or output_len < 0:
        raise BadInput("--input-len must be ≥ 1 and --output-len ≥ 0 tokens")
    kind = class_of(classes, input_len, output_len)
    if kind is None:
        raise BadInput(
            f"--input-len {input_len} --output-len {output_len}: no bucket of the capacity table "
            f"holds these lengths (buckets: {', '.join(bucket_text(c) for c in classes)})"
        )
    shares = np.zeros(len(classes))
    shares[kind] = 1.0
    return LengthMix(shares, float(input_len), float(output_len), "--input-len/--output-len")


def _parse_start(text: str, where: str) -> float:
    """ISO 8601 time → seconds since the epoch; a plain number is seconds."""
    value = text.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise BadInput(f"{where}, column start: {value[:40]!r} is not a time")
        return number
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(
            f"{where}, column start: {value[:40]!r} is not an ISO 8601 time or seconds"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp.timestamp()


def read_profile(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(start seconds, requests/s) of an hourly profile CSV `start, requests_per_s`, checked."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: no such traffic file")
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise BadInput(f"{path}: too large for a traffic profile")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read ({err})") from None
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    if header != ["start", "requests_per_s"]:
        raise BadInput(f"{path}: line 1: expected the header start,requests_per_s")
    starts: list[float] = []
    rates: list[float] = []
    try:
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            where = f"{path}: line {line}"
            if len(cells) != 2:
                raise BadInput(
                    f"{where}: expected 2 cells (start, requests_per_s), got {len(cells)}"
                )
            start = _parse_start(cells[0], where)
            try:
                rate = float(cells[1])
            except ValueError:
                raise BadInput(
                    f"{where}, column requests_per_s: {cells[1].strip()[:40]!r} is not a number"
                ) from None
            if not math.isfinite(rate) or rate < 0:
                raise BadInput(
                    f"{where}, column requests_per_s: {cells[1].strip()[:40]!r} must be a "
                    "finite rate ≥ 0"
                )
            if starts and start <= starts[-1]:
                raise BadInput(
                    f"{where}, column start: not after the line before (rows go in time order)"
                )
            starts.append(start)
            rates.append(rate)
    except csv.Error as err:
        raise BadInput(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None
    if not rates:
        raise BadInput(f"{path}: no rows under the header")
    if not any(rates):
        raise BadInput(f"{path}: every rate is 0: no requests to plan for")
    return np.asarray(starts), np.asarray(rates)


def demand_from_profile(
    starts: np.ndarray,
    rates: np.ndarray,
    mix: LengthMix,
    classes: Sequence[Bucket],
    *,
    step_s: float = 3600.0,
    horizon_s: float | None = None,
    growth: float = 1.0,
    source: str = "profile",
) -> Demand:
    """Demand from a piecewise-constant profile: each row's rate holds until the next row's start
    (the last row for the profile's usual spacing), averaged over each step."""
    gaps = np.diff(starts)
    last = float(np.median(gaps)) if gaps.size else step_s
    ends = np.append(starts[1:], starts[-1] + last)
    begin, finish = float(starts[0]), float(ends[-1])
    steps = max(1, round((finish - begin) / step_s))
    if steps > MAX_STEPS:
        raise BadInput(f"--step: {steps:,} steps is too many (at most {MAX_STEPS:,})")

    def cumulative(t: np.ndarray) -> np.ndarray:
        """Requests arrived from `begin` to t (piecewise linear)."""
        inside = np.clip(t[:, None], starts[None, :], ends[None, :]) - starts[None, :]
        return (inside * rates[None, :]).sum(axis=1)

    edges = begin + step_s * np.arange(steps + 1)
    per_step = np.diff(cumulative(edges)) / step_s
    shaped, notes = _shape(per_step[:, None] * mix.shares[None, :], step_s, horizon_s, growth)
    return Demand(
        classes=tuple(classes),
        rates=shaped,
        step_s=step_s,
        input_tokens_per_request=mix.input_tokens_per_request,
        output_tokens_per_request=mix.output_tokens_per_request,
        source=f"{source} (lengths from {mix.source})",
        notes=notes,
    )


def is_profile(path: str | Path) -> bool:
    """Whether the file is an hourly profile (`start,requests_per_s` header), not a trace."""
    try:
        with Path(path).open("r", encoding="utf-8-sig", errors="replace") as fh:
            first = fh.readline(4096)
    except OSError:
        return False
    return [c.strip() for c in first.strip().split(",")] == ["start", "requests_per_s"]
