"""Checks of what is priced together: runs with priceable rows, the GPU, the instances that carry
it, one currency, a scenario that fits the runs. Each refuses with one line saying what to do."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from harness.errors import BadInput, RunFolderError
from harness.gpus import CPU_ONLY, canonical_gpu
from harness.money.ratecard import Instance, RateCards
from harness.money.scenario import Scenario
from harness.money.units import priced_workloads
from harness.results.runs import RunRecord


def check_priceable(record: RunRecord) -> None:
    rows = record.measurements
    if rows.empty:
        raise RunFolderError(f"{record.path}: no measurements (nothing to price)")
    ok = rows[rows["status"] == "ok"]
    if ok.empty:
        counts = rows["status"].fillna("unknown").value_counts()
        summary = ", ".join(f"{n} {status}" for status, n in counts.items())
        raise RunFolderError(f"{record.path}: no ok rows to price ({summary})")
    if not ok["workload"].isin(priced_workloads()).any():
        names = ", ".join(sorted(ok["workload"].dropna().unique()))
        raise RunFolderError(
            f"{record.path}: no rows of a workload with priced units "
            f"(has: {names}; priced: {', '.join(priced_workloads())})"
        )


def resolve_gpu(key: str | None, cards: RateCards) -> str | None:
    if key is None:
        return None
    canonical = canonical_gpu(key)
    if canonical is None or canonical not in cards.gpu_keys():
        raise BadInput(
            f"--gpu {key!r}: not in any rate card (known: {', '.join(cards.gpu_keys())})"
        )
    return canonical


def match_instances(
    measurements: pd.DataFrame,
    selected: Sequence[Instance],
    cards: RateCards,
    gpu: str | None,
    explicit: bool,
) -> list[Instance]:
    """Instances carrying the GPU of every priced row, or BadInput naming the GPU that has none."""
    ok = measurements[
        (measurements["status"] == "ok") & measurements["workload"].isin(priced_workloads())
    ]
    known = ", ".join(cards.gpu_keys())
    keys: set[str] = set()
    for run_id, name in ok[["run_id", "gpu_name"]].drop_duplicates().itertuples(index=False):
        shown = "" if pd.isna(name) else str(name)
        key = gpu or canonical_gpu(shown)
        if key is None:
            raise BadInput(
                f"GPU {shown!r} (run {run_id}) is not in any rate card; "
                f"pass --gpu KEY (known: {known})"
            )
        if not any(i.gpu == key for i in selected):
            if explicit:
                have = ", ".join(sorted({f"{i.key} ({i.gpu})" for i in selected}))
                ran = "a CPU (gpu none)" if key == CPU_ONLY else key
                raise BadInput(
                    f"run {run_id} ran on {ran}; --instance {have} has another GPU "
                    "(pass --gpu KEY to price it there anyway)"
                )
            label = f"{shown!r} ({key})" if shown and shown != key else repr(key)
            raise BadInput(
                f"GPU {label} (run {run_id}) is not in any rate card; "
                f"pass --gpu KEY (known: {known})"
            )
        keys.add(key)
    return [i for i in selected if i.gpu in keys]


def check_currency(instances: Sequence[Instance]) -> str:
    """The one currency of the instances priced together; mixing is refused (no conversion)."""
    currencies = sorted({i.currency for i in instances})
    if len(currencies) > 1:
        odd = sorted({f"{i.card_path} ({i.currency})" for i in instances if i.currency != "USD"})
        raise BadInput(
            f"cannot price cards in different currencies together ({', '.join(odd)} "
            "vs USD): convert the card to USD, or narrow with --instance to one currency"
        )
    return currencies[0]


def check_scenario(scenario: Scenario, measurements: pd.DataFrame) -> None:
    ok = measurements[measurements["status"] == "ok"]
    workloads = sorted(ok["workload"].dropna().unique())
    if scenario.workload not in workloads:
        raise BadInput(
            f"{scenario.path}: workload {scenario.workload!r} is not in the run(s) "
            f"(they have: {', '.join(workloads)})"
        )
    if scenario.batch_size is not None:
        sizes = sorted(int(b) for b in ok.loc[ok["workload"] == scenario.workload, "batch_size"])
        if scenario.batch_size not in sizes:
            raise BadInput(
                f"{scenario.path}: batch_size {scenario.batch_size} was not measured "
                f"for {scenario.workload} (measured: {', '.join(map(str, sizes))})"
            )
