"""FOCUS 1.x (the FinOps Foundation's open cost and usage format): charge periods, the
EffectiveCost/BilledCost/ListCost columns, ChargeCategory and ChargeClass, tags as a JSON map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from harness.errors import BadInput
from harness.reconcile.bill_formats.base import (
    BillFormat,
    CostBasis,
    CostPlan,
    tag_from_json_map,
)
from harness.reconcile.sources import TagFilter
from harness.reconcile.sql import cell, number

# Where providers put the instance type in a column of their own (FOCUS has no standard one).
INSTANCE_COLUMNS = ("x_InstanceType", "InstanceType", "x_instance_type", "x_ResourceType")
_BASIS_COLUMN = {"amortized": "cost", "unblended": "billed", "billed": "billed", "list": "list"}


class Focus(BillFormat):
    name = "FOCUS"
    columns: ClassVar[Mapping[str, str]] = {
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
        "tags": "Tags",
    }

    def recognises(self, header: set[str]) -> bool:
        # A FOCUS bill without EffectiveCost still states what was billed.
        return self.has("start", header) and (
            self.has("cost", header) or self.has("billed", header)
        )

    def cost_plan(self, header: set[str], basis: CostBasis) -> CostPlan:
        if basis == "amortized" and not self.has("cost", header):
            basis = "billed"  # without EffectiveCost, the billed cost is all there is
        column = self.col(_BASIS_COLUMN[basis])
        if column not in header:
            costs = ("cost", "billed", "list")
            present = ", ".join(self.col(c) for c in costs if self.has(c, header))
            raise BadInput(
                f"--cost-basis {basis} needs the FOCUS column {column}, which this bill lacks "
                f"(present: {present})"
            )
        parts = []
        if self.has("class", header):
            parts.append(f"WHEN {cell(self.col('class'))} = 'Correction' THEN '(correction)'")
        if self.has("category", header):
            for category in ("Tax", "Credit", "Adjustment", "Purchase"):
                parts.append(
                    f"WHEN {cell(self.col('category'))} = '{category}' THEN '({category.lower()})'"
                )
        group = f"CASE {' '.join(parts)} END" if parts else "NULL"
        return CostPlan(number(column), group, (column,), column)

    def structured_instance(self, header: set[str]) -> list[str]:
        found = [cell(c) for c in INSTANCE_COLUMNS if c in header]
        if self.has("usage_type", header):
            found.append(
                f"NULLIF(regexp_extract({cell(self.col('usage_type'))}, "
                r"'Usage:([A-Za-z0-9][\w.-]*)$', 1), '')"
            )
        if self.has("sku_details", header):
            found.append(
                f"NULLIF(regexp_extract({cell(self.col('sku_details'))}, "
                r"'\"[Ii]nstance_?[Tt]ype\"\s*:\s*\"([^\"]+)\"', 1), '')"
            )
        return found

    def provider_sql(self, header: set[str]) -> str:
        if self.has("provider", header):
            return f"coalesce({cell(self.col('provider'))}, '')"
        return "''"

    def tag_sql(self, header: Sequence[str], tag: TagFilter) -> str | None:
        return tag_from_json_map(self.col("tags"), header, tag)
