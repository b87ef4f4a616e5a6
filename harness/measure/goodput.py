"""An in-process row's latency percentiles per request and its SLO columns.

Every request of a batch is served by the same timed iteration, so each iteration gives all of
its requests one set of latencies: end to end is the iteration's wall time, and the workload
names the others (`Workload.request_latencies`: text gives TTFT = prefill, TPOT = decode ÷
(output tokens − 1)). An iteration is good when those values meet every target; goodput is the
batch's units × (good iterations ÷ iterations) ÷ wall_s_p50, so goodput ÷ throughput is the
good share of the served work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness import stats
from harness.results.schema import UNIT_COLUMNS
from harness.slo import Slo, request_meets, row_meets

QUANTILES = (50, 90, 99)


def latency_percentiles(
    metrics: Sequence[str], iterations: Sequence[Mapping[str, float | None]]
) -> dict[str, float | None]:
    """`{metric}_s_p{50,90,99}` over the iterations' per-request latencies."""
    return {
        f"{m}_s_p{q}": stats.percentile([v for it in iterations if (v := it.get(m)) is not None], q)
        for m in metrics
        for q in QUANTILES
    }


def unjudged_metrics(slo: Slo, metrics: Sequence[str]) -> list[str]:
    """Target names the workload has no per-request latency for (e2e it always has)."""
    return [t.name for t in slo.targets if t.metric != "e2e" and t.metric not in metrics]


def batch_slo_columns(
    slo: Slo,
    row: Mapping[str, Any],
    metrics: Sequence[str],
    iterations: Sequence[Mapping[str, float | None]],
    batch_size: int,
) -> dict[str, Any]:
    """`slo`, `slo_met`, `good_requests` (over every timed iteration) and goodput per unit of
    the batch. `iterations` hold each iteration's latencies by metric, `e2e` included. With a
    target the workload cannot judge, `slo_met` is False only when another target fails, and
    good requests and goodput stay empty (not measured)."""
    columns: dict[str, Any] = {"slo": slo.text, "slo_met": row_meets(slo, row)}
    if unjudged_metrics(slo, metrics) or not iterations:
        return columns
    good = 0
    for it in iterations:
        # a workload's in-process ITL is one gap for every token of the iteration
        gap = it.get("itl")
        good += request_meets(
            slo, ttft_s=it.get("ttft"), tpot_s=it.get("tpot"), e2e_s=it.get("e2e"),
            itl_s=() if gap is None else (gap,),
        )  # fmt: skip
    share = good / len(iterations)
    per_batch = row.get("requests") or batch_size
    columns["good_requests"] = round(good * per_batch)
    wall = row.get("wall_s_p50")
    for unit in UNIT_COLUMNS:
        units = row.get(unit)
        if units is None:
            continue
        columns[f"goodput_{unit}_per_s"] = units * share / wall if wall else None
    return columns
