"""Where each bill format keeps what reconcile needs, and how each cost basis is computed from it.

Expressions are DuckDB SQL over a bill whose cells are text (`cell(...)` turns empty text and
FOCUS's literal `NULL` into SQL NULL). A charge that is not usage (tax, credit, refund, discount,
a commitment fee) goes to a group of its own, named in parentheses, so it is listed apart and
never divides the work as if it were the cost of an instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.errors import BadInput

CostBasis = Literal["amortized", "unblended", "billed", "list"]
COST_BASES: tuple[CostBasis, ...] = ("amortized", "unblended", "billed", "list")

UNUSED_COMMITMENT = "(unused commitment)"
CHARGE_GROUPS = (
    "(tax)",
    "(credit)",
    "(refund)",
    "(discount)",
    "(adjustment)",
    "(purchase)",
    "(correction)",
    "(commitment fee)",
    UNUSED_COMMITMENT,
)
"""Groups that hold charges, not the running cost of a resource: they never carry requests."""

# An AWS instance type inside free text: "On Demand Linux g5.xlarge Instance Hour".
DESCRIPTION_INSTANCE = (
    r"(?:^|[\s(])((?:db\.|cache\.)?[a-z][a-z0-9-]*[0-9][a-z0-9-]*\."
    r"(?:[0-9]*x?large|medium|small|micro|nano|metal[a-z0-9-]*))(?:$|[\s),])"
)


def check_cost_basis(basis: str) -> CostBasis:
    if basis not in COST_BASES:
        raise BadInput(f"--cost-basis must be one of {', '.join(COST_BASES)} (got {basis!r})")
    return basis  # type: ignore[return-value]


def quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def cell(column: str) -> str:
    """A text cell, trimmed; empty and FOCUS's literal NULL become SQL NULL."""
    return f"NULLIF(NULLIF(trim(CAST({quote(column)} AS VARCHAR)), ''), 'NULL')"


def number(column: str) -> str:
    return f"TRY_CAST({cell(column)} AS DOUBLE)"


def text_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class BillFormat:
    """One bill format: its columns (logical name → column), recognised by `start` and `cost`."""

    name: str
    columns: dict[str, str]
    tag_column_prefix: str | None = None  # legacy CUR: one column per tag
    tag_map: str | None = None  # CUR 2.0 / FOCUS: a JSON map per row

    def describe(self) -> str:
        return f"{self.name} ({self.columns['start']}, {self.columns['cost']})"

    def has(self, name: str, header: set[str]) -> bool:
        return name in self.columns and self.columns[name] in header

    def col(self, name: str) -> str:
        return self.columns[name]


def _aws(prefix_style: bool) -> dict[str, str]:
    if prefix_style:
        return {
            "start": "lineItem/UsageStartDate",
            "end": "lineItem/UsageEndDate",
            "cost": "lineItem/UnblendedCost",
            "type": "lineItem/LineItemType",
            "currency": "lineItem/CurrencyCode",
            "instance": "product/instanceType",
            "resource": "lineItem/ResourceId",
            "description": "lineItem/LineItemDescription",
            "sp_effective": "savingsPlan/SavingsPlanEffectiveCost",
            "sp_total": "savingsPlan/TotalCommitmentToDate",
            "sp_used": "savingsPlan/UsedCommitment",
            "ri_effective": "reservation/EffectiveCost",
            "ri_unused_upfront": "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
            "ri_unused_recurring": "reservation/UnusedRecurringFee",
            "ri_arn": "reservation/ReservationARN",
            "public": "pricing/publicOnDemandCost",
        }
    return {
        "start": "line_item_usage_start_date",
        "end": "line_item_usage_end_date",
        "cost": "line_item_unblended_cost",
        "type": "line_item_line_item_type",
        "currency": "line_item_currency_code",
        "instance": "product_instance_type",
        "resource": "line_item_resource_id",
        "description": "line_item_line_item_description",
        "sp_effective": "savings_plan_savings_plan_effective_cost",
        "sp_total": "savings_plan_total_commitment_to_date",
        "sp_used": "savings_plan_used_commitment",
        "ri_effective": "reservation_effective_cost",
        "ri_unused_upfront": "reservation_unused_amortized_upfront_fee_for_billing_period",
        "ri_unused_recurring": "reservation_unused_recurring_fee",
        "ri_arn": "reservation_reservation_a_r_n",
        "public": "pricing_public_on_demand_cost",
    }


AWS_CUR = BillFormat("AWS CUR", _aws(True), tag_column_prefix="resourceTags/")
AWS_CUR2 = BillFormat("AWS CUR 2.0", _aws(False), tag_map="resource_tags")
FOCUS = BillFormat(
    "FOCUS",
    {
        "start": "ChargePeriodStart",
        "end": "ChargePeriodEnd",
        "cost": "EffectiveCost",
        "billed": "BilledCost",
        "list": "ListCost",
        "category": "ChargeCategory",
        "class": "ChargeClass",
        "currency": "BillingCurrency",
        "provider": "ProviderName",
        "resource": "ResourceId",
        "usage_type": "x_UsageType",
        "sku_details": "SkuPriceDetails",
        "description": "ChargeDescription",
    },
    tag_map="Tags",
)
BILL_FORMATS: tuple[BillFormat, ...] = (AWS_CUR, AWS_CUR2, FOCUS)
FOCUS_INSTANCE_COLUMNS = ("x_InstanceType", "InstanceType", "x_instance_type", "x_ResourceType")


def detect_format(header: Sequence[str], where: str) -> BillFormat:
    present = set(header)
    for fmt in BILL_FORMATS:
        if fmt.col("start") not in present:
            continue
        if fmt.has("cost", present) or (fmt is FOCUS and "BilledCost" in present):
            return fmt
    expected = "; ".join(fmt.describe() for fmt in BILL_FORMATS)
    raise BadInput(f"bill {where}: columns match no known bill format; expected one of: {expected}")


@dataclass(frozen=True)
class CostPlan:
    """The SQL for one bill under one basis: the cost, the group a charge goes to, the columns
    whose cells must be finite numbers, and the name of the basis as the bill states it."""

    cost: str
    charge_group: str  # NULL for usage: the instance or resource decides the group
    checked: tuple[str, ...]
    source: str  # e.g. "EffectiveCost", "amortised (AWS line-item types)"


_AMORTISED_INPUTS = (
    "sp_effective",
    "sp_total",
    "sp_used",
    "ri_effective",
    "ri_unused_upfront",
    "ri_unused_recurring",
)
_AWS_TAX_CREDIT = {
    "Tax": "(tax)",
    "Credit": "(credit)",
    "Refund": "(refund)",
    "EdpDiscount": "(discount)",
    "BundledDiscount": "(discount)",
    "PrivateRateDiscount": "(discount)",
    "SppDiscount": "(discount)",
    "DistributorDiscount": "(discount)",
    "Discount": "(discount)",
}


def cost_plan(fmt: BillFormat, header: Sequence[str], basis: CostBasis) -> CostPlan:
    present = set(header)
    if fmt is FOCUS:
        return _focus_plan(present, basis)
    return _aws_plan(fmt, present, basis)


def _focus_plan(present: set[str], basis: CostBasis) -> CostPlan:
    wanted = {"amortized": "EffectiveCost", "unblended": "BilledCost", "billed": "BilledCost"}
    column = wanted.get(basis, "ListCost")
    if column not in present:
        raise BadInput(
            f"--cost-basis {basis} needs the FOCUS column {column}, which this bill lacks "
            f"(present: {', '.join(c for c in ('EffectiveCost', 'BilledCost', 'ListCost') if c in present)})"
        )
    parts = []
    if "ChargeClass" in present:
        parts.append(f"WHEN {cell('ChargeClass')} = 'Correction' THEN '(correction)'")
    if "ChargeCategory" in present:
        for category in ("Tax", "Credit", "Adjustment", "Purchase"):
            parts.append(
                f"WHEN {cell('ChargeCategory')} = '{category}' THEN '({category.lower()})'"
            )
    group = f"CASE {' '.join(parts)} END" if parts else "NULL"
    return CostPlan(number(column), group, (column,), column)


def _aws_plan(fmt: BillFormat, present: set[str], basis: CostBasis) -> CostPlan:
    def num(name: str) -> str:
        return f"coalesce({number(fmt.col(name))}, 0)" if fmt.has(name, present) else "0"

    kind = cell(fmt.col("type")) if fmt.has("type", present) else "NULL"
    taxes = " ".join(
        f"WHEN {kind} = '{item}' THEN '{group}'" for item, group in _AWS_TAX_CREDIT.items()
    )
    unblended = number(fmt.col("cost"))
    checked = [fmt.col("cost")]
    fees = "('SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee', 'RIFee', 'Fee')"
    if basis in ("unblended", "billed"):
        group = f"CASE {taxes} WHEN {kind} IN {fees} THEN '(commitment fee)' END"
        return CostPlan(unblended, group, tuple(checked), fmt.col("cost"))
    if basis == "list":
        if not fmt.has("public", present):
            raise BadInput(f"--cost-basis list needs the column {fmt.col('public')}")
        group = f"CASE {taxes} WHEN {kind} IN {fees} THEN '(commitment fee)' END"
        checked.append(fmt.col("public"))
        cost = (
            f"CASE WHEN {kind} IN {fees} OR {kind} = 'SavingsPlanNegation' THEN 0 "
            f"ELSE {num('public')} END"
        )
        return CostPlan(cost, group, tuple(checked), fmt.col("public"))
    checked += [fmt.col(n) for n in (*_AMORTISED_INPUTS,) if fmt.has(n, present)]
    ri_fee = (
        f"({kind} = 'Fee' AND {cell(fmt.col('ri_arn'))} IS NOT NULL)"
        if fmt.has("ri_arn", present)
        else "FALSE"
    )
    # AWS's amortised cost by line-item type (the formula of AWS's own cost dashboards):
    # covered usage at its effective cost, negations and upfront fees out (they are in the
    # effective cost already), recurring fees only for the commitment nobody used.
    cost = (
        f"CASE WHEN {kind} = 'SavingsPlanCoveredUsage' THEN {num('sp_effective')} "
        f"WHEN {kind} = 'SavingsPlanRecurringFee' THEN {num('sp_total')} - {num('sp_used')} "
        f"WHEN {kind} IN ('SavingsPlanNegation', 'SavingsPlanUpfrontFee') THEN 0 "
        f"WHEN {kind} = 'DiscountedUsage' THEN {num('ri_effective')} "
        f"WHEN {kind} = 'RIFee' THEN {num('ri_unused_upfront')} + {num('ri_unused_recurring')} "
        f"WHEN {ri_fee} THEN 0 "
        f"ELSE {unblended} END"
    )
    group = (
        f"CASE {taxes} WHEN {kind} IN ('SavingsPlanRecurringFee', 'RIFee') "
        f"THEN '{UNUSED_COMMITMENT}' WHEN {kind} IN {fees} THEN '(commitment fee)' END"
    )
    return CostPlan(cost, group, tuple(checked), "amortised (lineItem/LineItemType)")


def instance_sql(fmt: BillFormat, header: Sequence[str]) -> tuple[str, str]:
    """(the instance type or resource a row belongs to, whether it was parsed from free text)."""
    present = set(header)
    found: list[str] = []
    if fmt.has("instance", present):
        found.append(cell(fmt.col("instance")))
    if fmt is FOCUS:
        found += [cell(c) for c in FOCUS_INSTANCE_COLUMNS if c in present]
        if fmt.has("usage_type", present):
            found.append(
                f"NULLIF(regexp_extract({cell(fmt.col('usage_type'))}, "
                r"'Usage:([A-Za-z0-9][\w.-]*)$', 1), '')"
            )
        if fmt.has("sku_details", present):
            found.append(
                f"NULLIF(regexp_extract({cell(fmt.col('sku_details'))}, "
                r"'\"[Ii]nstance_?[Tt]ype\"\s*:\s*\"([^\"]+)\"', 1), '')"
            )
    structured = f"coalesce({', '.join(found)})" if found else "NULL"
    parsed = "NULL"
    if fmt.has("description", present):
        parsed = (
            f"NULLIF(regexp_extract({cell(fmt.col('description'))}, "
            f"'{DESCRIPTION_INSTANCE}', 1), '')"
        )
    resource = cell(fmt.col("resource")) if fmt.has("resource", present) else "NULL"
    label = f"coalesce({structured}, {parsed}, {resource}, '(no resource)')"
    from_text = f"({structured} IS NULL AND {parsed} IS NOT NULL)"
    return label, from_text


def provider_sql(fmt: BillFormat, header: Sequence[str]) -> str:
    if fmt is FOCUS and "ProviderName" in header:
        return f"coalesce({cell('ProviderName')}, '')"
    return "'AWS'" if fmt is not FOCUS else "''"


def where_label(path: Path, member: str | None) -> str:
    return f"{path}:{member}" if member else str(path)
