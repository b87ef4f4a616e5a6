"""The cost engine: measurement rows × instances × plans × utilisations → cost per unit of work.

Pure pandas: the work is a few joins and column arithmetic, never a Python loop over rows.
Formulas (DESIGN.md, "Cost formulas"):

    price_per_gpu_s = price_per_hour / max(gpu_count, 1) / 3600
    compute_cost    = paid_s × price_per_gpu_s × gpus_used / utilization
    energy_cost     = energy_j × pue / 3.6e6 × price_per_kwh                      (self-hosted)
    cost_per_unit   = (compute_cost + energy_cost) × share / units_per_batch

`paid_s` is the row's `window_s` when it has one (endpoint, imported and sweep rows: the unit
columns hold what was served in that window, on `gpus_used` GPUs), else `wall_s_p50` (an
in-process batch, on one GPU unless the row says otherwise). Units, shares and which workloads
are priced come from the workload specs (harness/money/units.py), never from workload names.

    cost_per_unit_usd_low/high = cost_per_unit × cost_factor_low/high      (the row's 95 % interval)
    goodput_cost_per_unit_usd  = cost_per_unit × (count / paid_s) / goodput_<count>_per_s

The interval factors come from the measurement (harness/money/confidence.py); the goodput
cost is the cost per unit of the requests that met the row's SLO (infinite when none did).

Cached input (a row with `cache_hit_rate`, from the server's prefix cache): a cached prompt
token needed no prefill, so the input tokens' share is carried by the uncached ones and a cached
token costs the prefill it did not need, nothing (harness/money/cached_input.py, the one home):

    cost_per_uncached_input_token_usd = cost per input token / (1 - cache_hit_rate)
    cost_per_cached_input_token_usd   = 0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from harness.gpus import canonical_gpu, max_power_w
from harness.money.cached_input import CACHED_COST_COLUMNS, add_cached_costs
from harness.money.context import PricingContext
from harness.money.ratecard import ALL_PLANS, Instance
from harness.money.units import count_columns, priced_workloads, unit_specs
from harness.results.schema import TEXT_COLUMN_NAMES, UNIT_COLUMNS

COST_COLUMNS: tuple[str, ...] = (
    "run_id", "workload", "preset", "batch_size", "provider", "instance", "gpu", "plan",
    "utilization", "unit", "units_per_batch", "cost_per_unit_usd",
)  # fmt: skip
"""The contract columns of `gpucost price` up to the cost; margin columns follow them."""

COST_RANGE_COLUMNS: tuple[str, ...] = (
    "cost_per_unit_usd_low", "cost_per_unit_usd_high", "goodput_cost_per_unit_usd", "unstable",
)  # fmt: skip
"""Contract columns of `unit_costs` after COST_COLUMNS: the cost's 95 % interval, its cost on
goodput (empty without an SLO) and the run's `unstable` flag."""

MARGIN_RANGE_COLUMNS: tuple[str, ...] = ("gross_margin_low", "gross_margin_high")
"""The margin at the high and at the low end of the cost interval."""

PRICED_COLUMNS: tuple[str, ...] = (
    *COST_COLUMNS, "price_per_unit_usd", "gross_margin", "break_even_price_usd",
    "cost_per_unit_usd_low", "cost_per_unit_usd_high", *MARGIN_RANGE_COLUMNS,
    "goodput_cost_per_unit_usd", "unstable",
)  # fmt: skip
"""Every contract column of `gpucost price --format csv|json`, in order."""

COST_EXTRA_COLUMNS: tuple[str, ...] = (
    "energy_estimated", "currency", "price_per_hour_usd", "gpus_used", "wall_s_p50",
    "energy_j_used", "compute_cost_usd", "energy_cost_usd", "batch_cost_usd", "cost_share",
    "source_row", *CACHED_COST_COLUMNS,
)  # fmt: skip
"""What `unit_costs` adds after the contract columns: the figures behind each cost,
`source_row`, the index label of the measurement row it prices (two rows may share run,
workload and batch size: two open-loop levels of one run), and the split of an input token's
cost by the row's prefix-cache hit rate (harness/money/cached_input.py)."""

ROW_COLUMNS: tuple[str, ...] = (
    "run_id", "workload", "preset", "batch_size", "wall_s_p50", "window_s", "prefill_s_p50",
    "decode_s_p50", "energy_j", "power_limit_w", "cost_factor_low", "cost_factor_high",
    "unstable", "cache_hit_rate", "server_prefill_s_sum", "server_decode_s_sum", *UNIT_COLUMNS,
)  # fmt: skip
"""Measurement columns the engine reads (and `batch_costs` keeps); a plugin spec's own count
columns follow them, then `goodput_<count>_per_s` of every count column."""

_FLAG_COLUMNS = ("unstable",)
"""Read as they are (true, false or empty), never as numbers."""

JOULES_PER_KWH = 3.6e6
SECONDS_PER_HOUR = 3600.0
_INSTANCE_COLUMNS = [
    "provider", "instance", "gpu", "gpu_count", "plan", "price_per_hour_usd", "currency",
    "self_hosted", "pue", "price_per_kwh", "card_power_w", "datasheet_power_w", "_plan_order",
]  # fmt: skip


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
                max_power_w(inst.gpu) or np.nan,
                ALL_PLANS.index(plan),
            ))  # fmt: skip
    return pd.DataFrame.from_records(records, columns=_INSTANCE_COLUMNS)


def _row_columns() -> tuple[str, ...]:
    counted = (*ROW_COLUMNS, *(c for c in count_columns() if c not in ROW_COLUMNS))
    return (*counted, *(goodput_column(c) for c in _count_frame_columns(counted)))


def goodput_column(count_column: str) -> str:
    """The results column holding the units per second of the requests that met the SLO."""
    return f"goodput_{count_column}_per_s"


def _unit_frame() -> pd.DataFrame:
    specs = unit_specs()
    counted = _count_frame_columns()
    return pd.DataFrame(
        {
            "workload": [s.workload for s in specs],
            "unit": [s.unit for s in specs],
            "_count_position": [counted.index(s.count_column) for s in specs],
            "_count_divisor": [s.count_divisor for s in specs],
            "_share_kind": [s.share for s in specs],
            "_unit_order": list(range(len(specs))),
        }
    )


def _count_frame_columns(columns: Sequence[str] | None = None) -> list[str]:
    columns = (*ROW_COLUMNS, *count_columns()) if columns is None else columns
    counted = [c for c in columns if c in UNIT_COLUMNS or c in count_columns()]
    return list(dict.fromkeys(counted))


def paid_seconds(rows: pd.DataFrame) -> pd.Series:
    """Seconds of GPU time a row pays for: its `window_s` when it has one, else `wall_s_p50`."""
    return rows["window_s"].where(rows["window_s"].notna(), rows["wall_s_p50"])


def unit_share(kind: pd.Series, prefill_s: pd.Series, decode_s: pd.Series,
               windowed: pd.Series) -> pd.Series:
    """Share of a row's cost a unit carries (the one home of this rule).

    "all" carries everything. With both phase times, "prefill" / "decode" carry their share of
    prefill + decode. Without them, a windowed row (endpoint, import) puts the whole cost on
    "decode" (output tokens) and leaves "prefill" (input tokens) empty; an in-process batch
    leaves both empty. An endpoint row's phase times are the server's own prefill and decode
    time sums over the level where its `/metrics` gives them (`server_phase_times`).
    """
    phases = prefill_s + decode_s
    phases = phases.where(phases > 0)
    split = phases.notna()
    whole = pd.Series(np.where(windowed & ~split, 1.0, np.nan), index=kind.index)
    share = np.select(
        [kind == "prefill", kind == "decode"],
        [(prefill_s / phases).where(split), (decode_s / phases).where(split, whole)],
        default=1.0,
    )
    return pd.Series(share, index=kind.index, dtype=float)


def server_phase_times(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(prefill, decode) times that split a row's cost: the measured phase medians, or for a
    windowed row without them the server's own sums over the level (vLLM's /metrics), which
    carry the same proportion of the engine's time."""
    measured = rows["prefill_s_p50"].notna() & rows["decode_s_p50"].notna()
    windowed = rows["window_s"].notna() & ~measured
    prefill = rows["prefill_s_p50"].where(~windowed, rows["server_prefill_s_sum"])
    decode = rows["decode_s_p50"].where(~windowed, rows["server_decode_s_sum"])
    return prefill, decode


def goodput_cost(
    cost: pd.Series, raw_per_s: pd.Series | np.ndarray, goodput_per_s: np.ndarray
) -> pd.Series:
    """Cost per unit counted on goodput: `cost` × raw rate ÷ goodput rate (the one home of this
    rule). Empty without a goodput figure (no SLO); infinite when no request met the SLO."""
    raw = np.asarray(raw_per_s, dtype=float)
    values = cost.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(goodput_per_s > 0, values * raw / goodput_per_s, np.nan)
    none_met = (goodput_per_s == 0) & np.isfinite(values)
    return pd.Series(np.where(none_met, np.inf, scaled), index=cost.index)


def priceable_rows(measurements: pd.DataFrame, gpu: str | None = None) -> pd.DataFrame:
    """`ok` rows of known workloads: the engine's columns, numeric, with the canonical `gpu` key
    (None when unknown, `gpu` when given) and `gpus_used` (1 unless the row says otherwise)."""
    ok = (measurements["status"] == "ok") & measurements["workload"].isin(priced_workloads())
    source = measurements[ok]
    rows = pd.DataFrame(index=source.index)
    for column in _row_columns():
        if column not in source.columns:
            rows[column] = np.nan
        elif column in TEXT_COLUMN_NAMES or column in _FLAG_COLUMNS:
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
    rows["source_row"] = source.index
    return rows


def oversized_notes(measurements: pd.DataFrame, context: PricingContext) -> list[str]:
    """One line per row measured on more GPUs (`gpus_used`) than any matched instance with its
    GPU has: such a level cannot run there, so it is not priced, and says so."""
    rows = priceable_rows(measurements, context.gpu)
    largest: dict[str, tuple[int, str]] = {}
    for inst in context.instances:
        best = largest.get(inst.gpu)
        if best is None or inst.gpu_count > best[0]:
            largest[inst.gpu] = (inst.gpu_count, f"{inst.provider}:{inst.name}")
    notes = []
    for index, row in rows.iterrows():
        fits = largest.get(row["gpu"])
        if fits is None or row["gpus_used"] <= max(fits[0], 1):
            continue
        level = measurements.loc[index]
        where = ", ".join(
            f"{c} {level[c]:g}" for c in ("concurrency", "request_rate") if pd.notna(level.get(c))
        ) or f"batch {int(row['batch_size'])}"
        notes.append(
            f"not priced: run {level['run_id']}, {level['workload']} {where}: measured on "
            f"{row['gpus_used']:g} GPUs, more than the largest matched instance "
            f"({fits[1]}, {fits[0]} GPUs)"
        )
    return notes


def batch_costs(measurements: pd.DataFrame, context: PricingContext) -> pd.DataFrame:
    """Cost of one batch for every `ok` row × instance with its GPU × plan × utilisation.

    Keeps ROW_COLUMNS and the instance's columns; adds `compute_cost_usd`, `energy_cost_usd`,
    `energy_j_used`, `energy_estimated` and `batch_cost_usd`.
    """
    rows = priceable_rows(measurements, context.gpu)
    return _batch_block(rows, instance_frame(context.instances, context.plans), context)


def _batch_block(
    rows: pd.DataFrame, instances: pd.DataFrame, context: PricingContext
) -> pd.DataFrame:
    """`batch_costs` of `rows` (from `priceable_rows`) against `instances`, the context's
    `instance_frame`."""
    joined = rows.merge(instances, on="gpu", how="inner")
    joined = joined[joined["gpus_used"] <= joined["gpu_count"].clip(lower=1)]
    joined = joined.merge(pd.DataFrame({"utilization": context.utilizations}), how="cross")
    gpu_s_price = (
        joined["price_per_hour_usd"] / joined["gpu_count"].clip(lower=1) / SECONDS_PER_HOUR
    )
    paid_s = paid_seconds(joined)
    compute = paid_s * gpu_s_price * joined["gpus_used"] / joined["utilization"]

    # Owned hardware pays its own electricity; a cloud's hourly price already includes it.
    power_w = (
        joined["card_power_w"].fillna(joined["power_limit_w"]).fillna(joined["datasheet_power_w"])
    )
    estimated_j = power_w * paid_s * joined["gpus_used"]
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


BLOCK_COMBINATIONS = 250_000
"""About how many output rows `unit_costs` builds at a time. The cross join is done per block of
measurement rows, so time and memory grow with the output, not with a whole-frame join and sort
of every intermediate at once."""

_ROW_KEYS = ["run_id", "workload", "batch_size"]


def unit_costs(measurements: pd.DataFrame, context: PricingContext) -> pd.DataFrame:
    """Cost per single unit of work: one row per `ok` row × instance × plan × utilisation × unit.

    Instances are matched to a row by GPU key (`context.gpu` overrides the key read from
    `gpu_name`).
    A unit the row did not measure, or a text row without a prefill/decode split, gets an empty
    cost, never a made-up one. Columns: COST_COLUMNS, COST_RANGE_COLUMNS, then
    COST_EXTRA_COLUMNS.

    Sorted by run, workload, batch size, unit, provider, instance, plan and utilisation; ties
    keep the order of the measurement rows.
    """
    us = context.utilizations
    rows = priceable_rows(measurements, context.gpu)
    inst = instance_frame(context.instances, context.plans)
    # Integer sort keys, computed once on the small frames, stand for the text sort keys.
    inst["_inst_order"] = inst.groupby(
        ["provider", "instance", "_plan_order"], sort=True, dropna=False
    ).ngroup()
    rank = rows.groupby(_ROW_KEYS, sort=True, dropna=False).ngroup().to_numpy()
    order = np.argsort(rank, kind="stable")
    rank = rank[order]
    rows = rows.iloc[order].assign(_row_order=rank)
    units = _unit_frame()
    per_row = max(1, len(inst) * len(us) * max(1, int(units["workload"].value_counts().max())))
    step = max(1, BLOCK_COMBINATIONS // per_row)
    pieces = []
    start = 0
    while start < len(rows) or not pieces:
        stop = min(start + step, len(rows))
        # A block ends where a run × workload × batch size ends, so rows that tie on those keys
        # are ordered together, as one sort of the whole frame would order them.
        while 0 < stop < len(rows) and rank[stop] == rank[stop - 1]:
            stop += 1
        pieces.append(_unit_block(rows.iloc[start:stop], inst, context, units))
        start = stop
    if len(pieces) == 1:
        return pieces[0]
    return pd.concat(pieces, ignore_index=True)


def _unit_block(
    rows: pd.DataFrame, instances: pd.DataFrame, context: PricingContext, units: pd.DataFrame
) -> pd.DataFrame:
    """`unit_costs` of one block of `rows`, sorted, without the helper columns."""
    batch = _batch_block(rows, instances, context)
    long = batch.merge(units, on="workload", how="inner")
    counts = long[_count_frame_columns()].to_numpy(dtype=float)
    position = long["_count_position"].to_numpy(dtype=int)
    per_batch = counts[np.arange(len(long)), position] / long["_count_divisor"].to_numpy()
    long["units_per_batch"] = np.where(per_batch > 0, per_batch, np.nan)

    prefill_s, decode_s = server_phase_times(long)
    long["cost_share"] = unit_share(
        long["_share_kind"], prefill_s, decode_s, long["window_s"].notna()
    )
    long["cost_per_unit_usd"] = (
        long["batch_cost_usd"] * long["cost_share"] / long["units_per_batch"]
    )
    long["cost_per_unit_usd_low"] = long["cost_per_unit_usd"] * long["cost_factor_low"]
    long["cost_per_unit_usd_high"] = long["cost_per_unit_usd"] * long["cost_factor_high"]
    goodput = long[[goodput_column(c) for c in _count_frame_columns()]].to_numpy(dtype=float)
    long["goodput_cost_per_unit_usd"] = goodput_cost(
        long["cost_per_unit_usd"],
        counts[np.arange(len(long)), position] / paid_seconds(long),
        goodput[np.arange(len(long)), position],
    )
    add_cached_costs(long)
    helpers = ["_row_order", "_unit_order", "_inst_order"]
    long = long[[*COST_COLUMNS, *COST_RANGE_COLUMNS, *COST_EXTRA_COLUMNS, *helpers]]
    long = long.sort_values([*helpers, "utilization"], kind="stable")
    return long.drop(columns=helpers).reset_index(drop=True)
