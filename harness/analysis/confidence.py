"""The 95 % interval of a row's cost per unit, from the variation the row itself measured.

Cost per unit is proportional to paid seconds ÷ units, so the interval is written as multiples
of the point estimate (`cost_factor_low`, `cost_factor_high`) and priced later by the money
layer as cost × factor. `cost_cv` is the bootstrap standard deviation ÷ the point estimate.

- An in-process row pays `wall_s_p50` (the median of its iteration wall times) for a fixed
  number of units: its interval is the bootstrap of that median over the iterations.
- An endpoint row pays `window_s` for the units served in the window. Requests that overlap in
  time are not independent (a closed loop's requests share the server; an open loop's cost is
  set by how many arrived), so resampling requests would be dishonest. Instead the window is cut
  into equal time blocks, each request's units are spread over the time it was in service, and
  the blocks are resampled (batch means): blocks are a few requests long, so neighbouring blocks
  are close to independent, whatever the arrival process. With few blocks a bootstrap of their
  mean is too narrow, so its spread is widened by the batch-means small-sample factor
  sqrt(K / (K − 1)) × t(K − 1) / z.

Every bootstrap uses the fixed seed SEED: the same measurements always give the same interval.
numpy only, no Python loop over resamples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from harness.endpoint.records import RequestRecord

SEED = 0x6C0575  # fixed: the interval is a property of the data, not of the moment it is drawn
RESAMPLES = 4000
LEVEL = 0.95
Z_975 = 1.959963984540054
UNSTABLE_CV = 0.10
"""A row whose per-iteration wall-time CV or whose cost CV is above this is flagged `unstable`
(the in-process default; `RunConfig.unstable_cv` overrides it for a run)."""

MAX_BLOCKS = 30
REQUESTS_PER_BLOCK = 3.0
"""A time block of an endpoint window lasts at least this many median request latencies."""

# Student t, 97.5 % quantile, by degrees of freedom K − 1 = 1–29 (K is at most MAX_BLOCKS).
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045,
)  # fmt: skip


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


def is_unstable(
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


def block_units(
    start_s: np.ndarray,
    end_s: np.ndarray,
    units: np.ndarray,
    window_start_s: float,
    window_s: float,
    blocks: int,
) -> np.ndarray:
    """Units served in each of `blocks` equal time blocks of the window: each request's units
    spread evenly over its time in service (a zero-length request counts at its end)."""
    edges = window_start_s + window_s * np.arange(blocks + 1) / blocks
    lo = np.clip(start_s, edges[0], edges[-1])[:, None]
    hi = np.clip(end_s, edges[0], edges[-1])[:, None]
    span = (hi - lo)[:, 0]
    overlap = np.clip(np.minimum(hi, edges[None, 1:]) - np.maximum(lo, edges[None, :-1]), 0, None)
    point = span <= 0
    share = np.divide(overlap, span[:, None], out=np.zeros_like(overlap), where=~point[:, None])
    if point.any():
        at = np.clip(np.searchsorted(edges, hi[point, 0], side="right") - 1, 0, blocks - 1)
        share[np.flatnonzero(point), at] = 1.0
    return units @ share


def window_cost_interval(
    start_s: Sequence[float],
    end_s: Sequence[float],
    units: Sequence[float],
    window_start_s: float,
    window_s: float | None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> CostInterval:
    """Interval of a windowed row's cost (∝ window_s ÷ units served), by a bootstrap of time
    blocks of the window (see the module docstring); empty below two served requests."""
    starts = np.asarray(start_s, dtype=float)
    ends = np.asarray(end_s, dtype=float)
    amounts = np.asarray(units, dtype=float)
    total = float(amounts.sum())
    if starts.size < 2 or not window_s or window_s <= 0 or not total > 0:
        return NOT_MEASURED
    latency = float(np.median(ends - starts))
    fit = int(window_s // (REQUESTS_PER_BLOCK * latency)) if latency > 0 else MAX_BLOCKS
    blocks = max(2, min(MAX_BLOCKS, starts.size, fit))
    per_block = block_units(starts, ends, amounts, window_start_s, window_s, blocks)
    rng = np.random.default_rng(seed)
    resampled = per_block[rng.integers(0, blocks, size=(resamples, blocks))].sum(axis=1)
    widen = math.sqrt(blocks / (blocks - 1)) * _T_975[blocks - 2] / Z_975
    with np.errstate(divide="ignore"):
        ratios = np.exp(widen * np.log(total / resampled))
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
    from workloads import registry

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
    return {**interval.columns(), "unstable": is_unstable(None, interval.cv)}
