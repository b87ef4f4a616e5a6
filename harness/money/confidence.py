"""The 95 % interval of a row's cost per unit, from the variation the row itself measured.

Cost per unit is proportional to paid seconds ÷ units, so the interval is written as multiples
of the point estimate (`cost_factor_low`, `cost_factor_high`) and priced later by the money
layer as cost × factor. `cost_cv` is the bootstrap standard deviation ÷ the point estimate.

- An in-process row pays `wall_s_p50` (the median of its iteration wall times) for a fixed
  number of units: its interval is the bootstrap of that median over the iterations.
- An endpoint row pays `window_s` for the units served in the window. In a steady window the
  time between one request's start and the next is what each request costs, so cost per unit is
  estimated as (seconds between starts) ÷ (units), summed over the requests in start order
  (a window that is mostly one burst: their service times instead). Requests in flight together share
  the server and are not independent, so they are resampled in runs (a moving-block bootstrap) as long as the mean number in flight: neighbouring runs are then close to
  independent, for a closed loop or an open one. A bootstrap of few blocks is too narrow, so
  its spread is widened by sqrt(K / (K − 1)). Ramp-up and drain are not resampled: the window's
  edges make the measured cost a little high (about one request latency ÷ the window).

Every bootstrap uses the fixed seed SEED: the same measurements always give the same interval.
numpy only, no Python loop over resamples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from workloads import registry


class RequestRecord(Protocol):
    """What the interval reads of one request of a load level (harness/endpoint/records.py writes
    them): whether it completed, when it started and ended, and its token counts."""

    start_s: float
    end_s: float | None
    input_tokens: int | None
    output_tokens: int | None

    @property
    def ok(self) -> bool: ...

SEED = 0x6C0575  # fixed: the interval is a property of the data, not of the moment it is drawn
RESAMPLES = 4000
LEVEL = 0.95
UNSTABLE_CV = 0.10
"""A row whose per-iteration wall-time CV or whose cost CV is above this is flagged `unstable`
(the in-process default; `RunConfig.unstable_cv` overrides it for a run)."""


@dataclass(frozen=True)
class CostInterval:
    """Cost-per-unit interval as multiples of the point estimate; None where not measured."""

    factor_low: float | None = None
    factor_high: float | None = None
    cv: float | None = None

    def columns(self) -> dict[str, float | None]:
        return {
            "cost_factor_low": self.factor_low,
            "cost_factor_high": self.factor_high,
            "cost_cv": self.cv,
        }


NOT_MEASURED = CostInterval()


def unstable_from_cv(
    wall_cv: float | None, cost_cv: float | None, threshold: float = UNSTABLE_CV
) -> bool | None:
    """True when either CV is above `threshold`; None when neither was measured."""
    known = [v for v in (wall_cv, cost_cv) if v is not None and math.isfinite(v)]
    if not known:
        return None
    return any(v > threshold for v in known)


def _summary(ratios: np.ndarray) -> CostInterval:
    """Percentile interval and CV of resampled cost ÷ point cost; an unbounded end is None."""
    finite = ratios[np.isfinite(ratios)]
    if finite.size < ratios.size:
        # Some resamples served no unit: the cost has no upper bound and no finite spread.
        low = float(np.quantile(finite, (1 - LEVEL) / 2)) if finite.size else None
        return CostInterval(low, None, None)
    low, high = np.quantile(ratios, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return CostInterval(float(low), float(high), float(ratios.std(ddof=1)))


def bootstrap_medians(
    values: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED
) -> np.ndarray:
    """Medians of `resamples` bootstrap resamples of `values` (numpy's interpolated median).

    Drawn without building the resamples: in a resample of n values, the k-th smallest is the
    sorted value at floor(n × U(k)), U(k) the k-th smallest of n uniforms, which is
    Beta(k, n − k + 1); for an even n the next one up is U(k) + (1 − U(k)) × (1 − V^(1/(n−k)))
    with V uniform. So it costs the same for 10 iterations or 10,000."""
    ordered = np.sort(values)
    n = ordered.size
    rng = np.random.default_rng(seed)
    k = (n + 1) // 2
    u_k = rng.beta(k, n - k + 1, size=resamples)
    lower = ordered[np.minimum((u_k * n).astype(np.int64), n - 1)]
    if n % 2:
        return lower
    u_next = u_k + (1.0 - u_k) * (1.0 - rng.random(resamples) ** (1.0 / (n - k)))
    upper = ordered[np.minimum((u_next * n).astype(np.int64), n - 1)]
    return (lower + upper) / 2.0


def median_cost_interval(
    wall_s: Sequence[float | None], resamples: int = RESAMPLES, seed: int = SEED
) -> CostInterval:
    """Interval of an in-process row's cost (∝ the median iteration wall time); empty below two
    iterations."""
    values = np.array([v for v in wall_s if v is not None], dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        return NOT_MEASURED
    point = float(np.median(values))
    if point <= 0:
        return NOT_MEASURED
    return _summary(bootstrap_medians(values, resamples, seed) / point)


def _block_sums(values: np.ndarray, length: int) -> np.ndarray:
    """Sum of every run of `length` consecutive values, one per starting position."""
    running = np.concatenate([[0.0], np.cumsum(values)])
    return running[length:] - running[:-length]


def window_cost_interval(
    start_s: Sequence[float],
    end_s: Sequence[float],
    units: Sequence[float],
    window_start_s: float,
    window_s: float | None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> CostInterval:
    """Interval of a windowed row's cost (∝ window_s ÷ units served), by a moving-block
    bootstrap over its requests (see the module docstring); empty below three served requests."""
    order = np.argsort(np.asarray(start_s, dtype=float), kind="stable")
    starts = np.asarray(start_s, dtype=float)[order]
    ends = np.asarray(end_s, dtype=float)[order]
    amounts = np.asarray(units, dtype=float)[order]
    if starts.size < 3 or not window_s or window_s <= 0 or not amounts.sum() > 0:
        return NOT_MEASURED
    # Each request's share of the window: until the next one starts; the last one's, until the
    # window ends. They add up to the window, so the point estimate is the row's own cost.
    seconds = np.diff(starts, append=window_start_s + window_s)
    served = amounts
    if not seconds[:-1].sum() > window_s / 2:
        # Most of the window is one burst (`--request-rate inf`, or no more requests than the
        # concurrency): no steady stretch to resample, so the time is the service itself.
        seconds, served = ends - starts, amounts
    in_flight = float((ends - starts).sum()) / window_s
    length = int(min(max(round(in_flight), 1), max(served.size // 2, 1)))
    seconds_blocks = _block_sums(seconds, length)
    served_blocks = _block_sums(served, length)
    blocks = max(served.size // length, 2)
    point = seconds_blocks.sum() / served_blocks.sum()  # the bootstrap's own centre
    rng = np.random.default_rng(seed)
    ratios = np.empty(resamples)
    chunk = max(1, 2_000_000 // blocks)  # bounded memory for long windows
    for first in range(0, resamples, chunk):
        picks = rng.integers(0, seconds_blocks.size, size=(min(chunk, resamples - first), blocks))
        with np.errstate(divide="ignore", invalid="ignore"):
            resampled = seconds_blocks[picks].sum(axis=1) / served_blocks[picks].sum(axis=1)
        ratios[first : first + picks.shape[0]] = resampled / point
    # Few blocks make a bootstrap of a mean too narrow by about sqrt(K / (K − 1)).
    widen = math.sqrt(blocks / (blocks - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.exp(widen * np.log(ratios))
    return _summary(ratios)


def request_units(record: RequestRecord, count_column: str) -> float | None:
    """Units of `count_column` one completed request served; None for a column requests do not
    report (an image count, say)."""
    if count_column in ("requests", "sequences"):
        return 1.0
    if count_column in ("input_tokens", "output_tokens"):
        value = getattr(record, count_column)
        return float(value or 0)
    return None


def endpoint_cost_columns(
    records: Sequence[RequestRecord], workload: str, window_s: float | None
) -> dict[str, Any]:
    """`cost_factor_low`, `cost_factor_high`, `cost_cv` and `unstable` of a load level, on the
    units of the workload's primary unit; empty when the spec or the counts are not there."""
    spec = registry.spec(workload)
    column = spec.unit(spec.primary_unit).count_column if spec and spec.primary_unit else None
    ok = [r for r in records if r.ok]
    units = [request_units(r, column) for r in ok] if column else []
    if not records or not ok or any(u is None for u in units) or column is None:
        interval = NOT_MEASURED
    else:
        interval = window_cost_interval(
            [r.start_s for r in ok], [r.end_s for r in ok], units,
            min(r.start_s for r in records), window_s,
        )  # fmt: skip
    return {**interval.columns(), "unstable": unstable_from_cv(None, interval.cv)}
