"""The cost engine: measurement rows × instances × plans × utilisations → cost per unit of work.

Pure pandas: the work is a few joins and column arithmetic, never a Python loop over rows.
Formulas (DESIGN.md, "Cost formulas"):

    price_per_gpu_s = price_per_hour / max(gpu_count, 1) / 3600
    compute_cost    = wall_s_p50 × price_per_gpu_s × gpus_used / utilization     (per batch)
    energy_cost     = energy_j × pue / 3.6e6 × price_per_kwh                      (self-hosted)
    cost_per_unit   = (compute_cost + energy_cost) × share / units_per_batch
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from harness.errors import BadInput
from harness.money.gpus import MAX_POWER_W, canonical_gpu
from harness.money.ratecard import ALL_PLANS, Instance
from harness.money.units import UNIT_SPECS, UNITS_BY_WORKLOAD
from harness.schema import UNIT_COLUMNS

COST_COLUMNS: tuple[str, ...] = (
    "run_id", "workload", "preset", "batch_size", "provider", "instance", "gpu", "plan",
    "utilization", "unit", "units_per_batch", "cost_per_unit_usd",
)  # fmt: skip
"""The contract columns of `gpucost price` up to the cost; margin columns follow them."""

PRICED_COLUMNS: tuple[str, ...] = (
    *COST_COLUMNS, "price_per_unit_usd", "gross_margin", "break_even_price_usd",
)  # fmt: skip
"""Every contract column of `gpucost price --format csv|json`, in order."""

COST_EXTRA_COLUMNS: tuple[str, ...] = (
    "energy_estimated", "currency", "price_per_hour_usd", "gpus_used", "wall_s_p50",
    "energy_j_used", "compute_cost_usd", "energy_cost_usd", "batch_cost_usd", "cost_share",
)  # fmt: skip
"""What `unit_costs` adds after the contract columns: the figures behind each cost."""

ROW_COLUMNS: tuple[str, ...] = (
    "run_id", "workload", "preset", "batch_size", "wall_s_p50", "prefill_s_p50", "decode_s_p50",
    "energy_j", "power_limit_w", *UNIT_COLUMNS,
)  # fmt: skip
"""Measurement columns the engine reads (and `batch_costs` keeps)."""

JOULES_PER_KWH = 3.6e6
SECONDS_PER_HOUR = 3600.0
_INSTANCE_COLUMNS = [
    "provider", "instance", "gpu", "gpu_count", "plan", "price_per_hour_usd", "currency",
    "self_hosted", "pue", "price_per_kwh", "card_power_w", "datasheet_power_w", "_plan_order",
]  # fmt: skip


def check_utilizations(utilizations: Iterable[float]) -> tuple[float, ...]:
    values = tuple(float(u) for u in utilizations)
    if not values:
        raise BadInput("--utilization: give at least one value")
    for u in values:
        if not (math.isfinite(u) and 0.0 < u <= 1.0):
            raise BadInput(f"--utilization {u:g}: must be a share with 0 < u ≤ 1")
    return values


def instance_frame(
    instances: Iterable[Instance], plans: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per instance × plan it prices (restricted to `plans` when given)."""
    records = []
    for inst in instances:
        owned = inst.self_hosted
        for plan, price in inst.prices_per_hour_usd.items():
            if plans is not None and plan not in plans:
                continue
            records.append((
                inst.provider, inst.name, inst.gpu, inst.gpu_count, plan, price, inst.currency,
                owned is not None,
                owned.pue if owned else np.nan,
                owned.electricity_price_per_kwh_usd if owned else np.nan,
                owned.power_w_per_gpu if owned and owned.power_w_per_gpu else np.nan,
                MAX_POWER_W.get(inst.gpu) or np.nan,
                ALL_PLANS.index(plan),
            ))  # fmt: skip
    return pd.DataFrame.from_records(records, columns=_INSTANCE_COLUMNS)


def _unit_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "workload": [s.workload for s in UNIT_SPECS],
            "unit": [s.unit for s in UNIT_SPECS],
            "_count_position": [UNIT_COLUMNS.index(s.count_column) for s in UNIT_SPECS],
            "_count_divisor": [s.count_divisor for s in UNIT_SPECS],
            "_share_kind": [s.share for s in UNIT_SPECS],
            "_unit_order": list(range(len(UNIT_SPECS))),
        }
    )


def priceable_rows(measurements: pd.DataFrame, gpu: str | None = None) -> pd.DataFrame:
    """`ok` rows of known workloads: the engine's columns, numeric, with the canonical `gpu` key
    (None when unknown, `gpu` when given) and `gpus_used` (1 unless the row says otherwise)."""
    ok = (measurements["status"] == "ok") & measurements["workload"].isin(list(UNITS_BY_WORKLOAD))
    source = measurements[ok]
    rows = pd.DataFrame(index=source.index)
    for column in ROW_COLUMNS:
        if column not in source.columns:
            rows[column] = np.nan
        elif column in ("run_id", "workload", "preset"):
            rows[column] = source[column]
        elif column == "batch_size":
            rows[column] = source[column].astype("int64")
        else:
            rows[column] = pd.to_numeric(source[column], errors="coerce").astype(float)
    if gpu is not None:
        rows["gpu"] = gpu
    else:
        names = source["gpu_name"].astype(object).where(source["gpu_name"].notna(), None)
        keys = {name: canonical_gpu(name) for name in names.unique()}
        rows["gpu"] = names.map(keys)
    used = source["gpus_used"] if "gpus_used" in source.columns else np.nan
    rows["gpus_used"] = pd.to_numeric(pd.Series(used, index=source.index), errors="coerce")
    rows["gpus_used"] = rows["gpus_used"].fillna(1.0)
    return rows


def batch_costs(
    measurements: pd.DataFrame,
    instances: Iterable[Instance],
    plans: Sequence[str] | None = None,
    utilizations: Iterable[float] = (1.0,),
    gpu: str | None = None,
) -> pd.DataFrame:
    """Cost of one batch for every `ok` row × instance with its GPU × plan × utilisation.

    Keeps ROW_COLUMNS and the instance's columns; adds `compute_cost_usd`, `energy_cost_usd`,
    `energy_j_used`, `energy_estimated` and `batch_cost_usd`.
    """
    us = check_utilizations(utilizations)
    rows = priceable_rows(measurements, gpu)
    joined = rows.merge(instance_frame(instances, plans), on="gpu", how="inner")
    joined = joined[joined["gpus_used"] <= joined["gpu_count"].clip(lower=1)]
    joined = joined.merge(pd.DataFrame({"utilization": us}), how="cross")
    gpu_s_price = (
        joined["price_per_hour_usd"] / joined["gpu_count"].clip(lower=1) / SECONDS_PER_HOUR
    )
    compute = joined["wall_s_p50"] * gpu_s_price * joined["gpus_used"] / joined["utilization"]

    # Owned hardware pays its own electricity; a cloud's hourly price already includes it.
    power_w = (
        joined["card_power_w"].fillna(joined["power_limit_w"]).fillna(joined["datasheet_power_w"])
    )
    estimated_j = power_w * joined["wall_s_p50"] * joined["gpus_used"]
    owned = joined["self_hosted"].astype(bool)
    measured = joined["energy_j"].notna()
    energy_j = joined["energy_j"].where(measured, estimated_j)
    energy_cost = energy_j * joined["pue"] / JOULES_PER_KWH * joined["price_per_kwh"]
    joined["energy_j_used"] = energy_j.where(owned)
    joined["energy_estimated"] = owned & ~measured
    joined["compute_cost_usd"] = compute
    # Empty on cloud rows: their hourly price already covers electricity.
    joined["energy_cost_usd"] = energy_cost.where(owned)
    joined["batch_cost_usd"] = compute + joined["energy_cost_usd"].fillna(0.0)
    return joined


def unit_costs(
    measurements: pd.DataFrame,
    instances: Iterable[Instance],
    plans: Sequence[str] | None = None,
    utilizations: Iterable[float] = (1.0,),
    gpu: str | None = None,
) -> pd.DataFrame:
    """Cost per single unit of work: one row per `ok` row × instance × plan × utilisation × unit.

    Instances are matched to a row by GPU key (`gpu` overrides the key read from `gpu_name`).
    A unit the row did not measure, or a text row without a prefill/decode split, gets an empty
    cost, never a made-up one. Columns: COST_COLUMNS, then COST_EXTRA_COLUMNS.
    """
    batch = batch_costs(measurements, instances, plans, utilizations, gpu)
    long = batch.merge(_unit_frame(), on="workload", how="inner")
    counts = long[list(UNIT_COLUMNS)].to_numpy(dtype=float)
    position = long["_count_position"].to_numpy(dtype=int)
    units = counts[np.arange(len(long)), position] / long["_count_divisor"].to_numpy()
    long["units_per_batch"] = np.where(units > 0, units, np.nan)

    phases = long["prefill_s_p50"] + long["decode_s_p50"]
    phases = phases.where(phases > 0)
    kind = long["_share_kind"]
    long["cost_share"] = np.select(
        [kind == "prefill", kind == "decode"],
        [long["prefill_s_p50"] / phases, long["decode_s_p50"] / phases],
        default=1.0,
    )
    long["cost_per_unit_usd"] = (
        long["batch_cost_usd"] * long["cost_share"] / long["units_per_batch"]
    )
    long = long[[*COST_COLUMNS, *COST_EXTRA_COLUMNS, "_unit_order", "_plan_order"]]
    long = long.sort_values(
        ["run_id", "workload", "batch_size", "_unit_order", "provider", "instance",
         "_plan_order", "utilization"],
        kind="stable",
    )  # fmt: skip
    return long.drop(columns=["_unit_order", "_plan_order"]).reset_index(drop=True)
