"""AWS Cost and Usage Reports: the legacy CUR (`lineItem/UsageStartDate`, one column per tag) and
CUR 2.0 (`line_item_usage_start_date`, tags as a JSON map). Both apply AWS's line-item rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from harness.errors import BadInput
from harness.reconcile.bill_formats.base import (
    UNUSED_COMMITMENT,
    BillFormat,
    CostBasis,
    CostPlan,
    tag_from_columns,
    tag_from_json_map,
)
from harness.reconcile.sources import TagFilter
from harness.reconcile.sql import cell, number

_AMORTISED_INPUTS = (
    "sp_effective",
    "sp_total",
    "sp_used",
    "ri_effective",
    "ri_unused_upfront",
    "ri_unused_recurring",
)
_TAX_CREDIT = {
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
_FEES = "('SavingsPlanRecurringFee', 'SavingsPlanUpfrontFee', 'RIFee', 'Fee')"


class AwsBill(BillFormat):
    """AWS's line-item logic, shared by both CUR layouts; a layout gives its columns and tags."""

    def cost_plan(self, header: set[str], basis: CostBasis) -> CostPlan:
        def num(name: str) -> str:
            return f"coalesce({number(self.col(name))}, 0)" if self.has(name, header) else "0"

        kind = cell(self.col("type")) if self.has("type", header) else "NULL"
        taxes = " ".join(
            f"WHEN {kind} = '{item}' THEN '{group}'" for item, group in _TAX_CREDIT.items()
        )
        unblended = number(self.col("cost"))
        checked = [self.col("cost")]
        if basis in ("unblended", "billed"):
            group = f"CASE {taxes} WHEN {kind} IN {_FEES} THEN '(commitment fee)' END"
            return CostPlan(unblended, group, tuple(checked), self.col("cost"))
        if basis == "list":
            if not self.has("public", header):
                raise BadInput(f"--cost-basis list needs the column {self.col('public')}")
            group = f"CASE {taxes} WHEN {kind} IN {_FEES} THEN '(commitment fee)' END"
            checked.append(self.col("public"))
            cost = (
                f"CASE WHEN {kind} IN {_FEES} OR {kind} = 'SavingsPlanNegation' THEN 0 "
                f"ELSE {num('public')} END"
            )
            return CostPlan(cost, group, tuple(checked), self.col("public"))
        checked += [self.col(n) for n in _AMORTISED_INPUTS if self.has(n, header)]
        ri_fee = (
            f"({kind} = 'Fee' AND {cell(self.col('ri_arn'))} IS NOT NULL)"
            if self.has("ri_arn", header)
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
            f"THEN '{UNUSED_COMMITMENT}' WHEN {kind} IN {_FEES} THEN '(commitment fee)' END"
        )
        return CostPlan(cost, group, tuple(checked), "amortised (lineItem/LineItemType)")

    def structured_instance(self, header: set[str]) -> list[str]:
        return [cell(self.col("instance"))] if self.has("instance", header) else []

    def provider_sql(self, header: set[str]) -> str:
        return "'AWS'"


class AwsCur(AwsBill):
    name = "AWS CUR"
    columns: ClassVar[Mapping[str, str]] = {
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

    def tag_sql(self, header: Sequence[str], tag: TagFilter) -> str | None:
        return tag_from_columns("resourceTags/", header, tag)


class AwsCur2(AwsBill):
    name = "AWS CUR 2.0"
    columns: ClassVar[Mapping[str, str]] = {
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

    def tag_sql(self, header: Sequence[str], tag: TagFilter) -> str | None:
        return tag_from_json_map("resource_tags", header, tag)
