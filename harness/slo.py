"""Service-level objectives: parse `--slo`, judge a results row, and judge one request.

An SLO is a list of latency targets such as `ttft_p99=0.5,tpot_p99=0.05,e2e_p99=20` (seconds).
A row (a load level, an in-process batch size) meets it when every target's percentile in the
row is at or under its limit. Goodput counts the requests that met every target themselves,
whatever the quantile named (vLLM's definition): a request's own TTFT, TPOT and end-to-end time
are compared with the limits, and for inter-token latency the request's own quantile of its gaps.

No torch, no pandas: the money and report layers import this.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.errors import BadInput
from harness.stats import percentile

METRICS: tuple[str, ...] = ("ttft", "tpot", "itl", "e2e")
"""time to first token, time per output token after the first, inter-token gap, end to end"""
SLO_QUANTILES: tuple[int, ...] = (50, 90, 99)


@dataclass(frozen=True)
class SloTarget:
    """One latency target: the `quantile`-th percentile of `metric` at most `limit_s` seconds."""

    metric: str  # "ttft" | "tpot" | "itl" | "e2e"
    quantile: int  # 50 | 90 | 99
    limit_s: float

    @property
    def column(self) -> str:
        """The endpoint row column holding this percentile."""
        return f"{self.metric}_s_p{self.quantile}"

    @property
    def name(self) -> str:
        return f"{self.metric}_p{self.quantile}"


@dataclass(frozen=True)
class Slo:
    targets: tuple[SloTarget, ...]

    @property
    def text(self) -> str:
        """Canonical form, targets in the order given: `ttft_p99=0.5,tpot_p99=0.05`."""
        return ",".join(f"{t.name}={format(t.limit_s, '.12g')}" for t in self.targets)


def parse_slo(text: str, where: str = "--slo") -> Slo:
    """`ttft_p99=0.5,tpot_p99=0.05,e2e_p99=20` → Slo. Any of ttft, tpot, itl, e2e at p50/p90/p99."""
    parts = [p.strip() for p in (text or "").split(",")]
    if not any(parts):
        raise BadInput(f"{where}: empty SLO; give targets such as ttft_p99=0.5,e2e_p99=20")
    targets: list[SloTarget] = []
    seen: set[str] = set()
    for part in parts:
        if not part:
            raise BadInput(f"{where}: empty target in {text!r}")
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep:
            raise BadInput(f"{where}: {part!r} is not NAME=SECONDS (e.g. ttft_p99=0.5)")
        metric, _, q = name.rpartition("_p")
        if metric not in METRICS:
            shown = metric or name
            raise BadInput(
                f"{where}: unknown metric {shown!r} in {part!r}; use ttft, tpot, itl or e2e"
            )
        # exactly p50/p90/p99: `p099` would be a second spelling of p99, given twice unseen
        if q not in {str(quantile) for quantile in SLO_QUANTILES}:
            raise BadInput(f"{where}: unknown quantile 'p{q}' in {part!r}; use p50, p90 or p99")
        try:
            if "_" in value:  # float() reads 1_0 as 10
                raise ValueError(value)
            limit = float(value.strip())
        except ValueError:
            raise BadInput(
                f"{where}: limit {value.strip()!r} in {part!r} is not a number of seconds"
            ) from None
        if not math.isfinite(limit) or limit <= 0:
            raise BadInput(
                f"{where}: limit in {part!r} must be a positive, finite number of seconds"
            )
        if name in seen:
            raise BadInput(f"{where}: {name} is given twice")
        seen.add(name)
        targets.append(SloTarget(metric, int(q), limit))
    return Slo(tuple(targets))


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def row_value(row: Mapping, target: SloTarget) -> float | None:
    """The row's value for `target`: `{metric}_s_p{q}` (endpoint and imported rows, and in-process
    rows that fill it); for e2e an in-process row's `wall_s_p{q}` when that column is empty."""
    value = _number(row.get(target.column))
    if value is None and target.metric == "e2e":
        value = _number(row.get(f"wall_s_p{target.quantile}"))
    return value


def unjudged_targets(slo: Slo, row: Mapping) -> list[SloTarget]:
    """The targets the row has no value for."""
    return [t for t in slo.targets if row_value(row, t) is None]


def row_meets(slo: Slo, row: Mapping) -> bool | None:
    """True if every target is met; False if any measured value exceeds its limit; None when
    some target cannot be judged and none fails.

    A failed request never answered in time: counted in the percentile as an unbounded latency,
    a level whose `error_rate` is above 1 − q/100 misses every p-q target (a p99 target allows
    at most 1 % of requests to fail), whatever its completed requests' latencies."""
    unknown = False
    error_rate = _number(row.get("error_rate"))
    for target in slo.targets:
        if error_rate is not None and error_rate > 1 - target.quantile / 100:
            return False
        value = row_value(row, target)
        if value is None:
            unknown = True
        elif value > target.limit_s:
            return False
    return None if unknown else True


def request_meets(
    slo: Slo,
    *,
    ttft_s: float | None,
    tpot_s: float | None,
    e2e_s: float | None,
    itl_s: Sequence[float] = (),
) -> bool:
    """Whether one request met every target with its own values (the goodput test). A request
    that lacks a value a target needs (no first token, one output token for TPOT, no gaps for
    ITL) does not count as good."""
    own = {"ttft": _number(ttft_s), "tpot": _number(tpot_s), "e2e": _number(e2e_s)}
    for target in slo.targets:
        if target.metric == "itl":
            value = percentile(list(itl_s), target.quantile) if itl_s else None
        else:
            value = own[target.metric]
        if value is None or value > target.limit_s:
            return False
    return True
