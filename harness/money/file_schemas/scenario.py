"""The scenario file: one service's workload, direct costs per call and revenue model."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from harness.errors import shown
from harness.money.file_schemas.fields import (
    NonNegative,
    Positive,
    PositiveCount,
    PositiveShare,
    Share,
    Strict,
    Text,
    refused_at,
)
from harness.money.prices import check_unit, parse_price_value
from harness.money.ratecard import ALL_PLANS
from harness.money.scenario import CALL_UNIT, DirectCosts, Revenue, Scenario
from harness.money.units import units_by_workload
from harness.money.yamlfile import Location


class DirectCostsModel(Strict):
    third_party_api_usd: NonNegative = 0.0
    licence_usd: NonNegative = 0.0
    egress_usd_per_gb: NonNegative = 0.0
    egress_bytes: NonNegative = 0.0
    storage_usd_per_gb_month: NonNegative = 0.0
    storage_gb: NonNegative = 0.0
    storage_months: NonNegative = 0.0
    review_share: Share = 0.0
    review_minutes: NonNegative = 0.0
    review_wage_usd_per_hour: NonNegative = 0.0


class PerCall(Strict):
    model: Literal["per_call"]
    price_usd: NonNegative


class PerUnit(Strict):
    model: Literal["per_unit"]
    prices: dict[str, Text] = Field(
        min_length=1, description='unit → price, e.g. "0.60/1M"'
    )


class Bundle(Strict):
    model: Literal["bundle"]
    package_price_usd: NonNegative
    included_units: Positive
    unit: Text = CALL_UNIT
    expected_use_share: PositiveShare = 1.0


class Free(Strict):
    model: Literal["free"]


class ScenarioFile(Strict):
    """A product scenario: direct costs and revenue per call of one service."""

    name: Text | None = None
    workload: Text = Field(description="a workload measured in the run")
    batch_size: PositiveCount | None = None
    instance: Text | None = Field(default=None, description="provider:instance")
    plan: Literal[ALL_PLANS] | None = None  # type: ignore[valid-type]
    utilization: PositiveShare | None = None
    expected_monthly_calls: NonNegative | None = None
    direct_costs_per_call: DirectCostsModel | None = None
    revenue: PerCall | PerUnit | Bundle | Free = Field(discriminator="model")

    @field_validator("workload")
    @classmethod
    def _known_workload(cls, workload: str) -> str:
        known = units_by_workload()
        if workload not in known:
            raise ValueError(
                f"workload {shown(workload)} is unknown (workloads: {', '.join(known)})"
            )
        return workload

    @field_validator("instance")
    @classmethod
    def _instance_ref(cls, instance: str | None) -> str | None:
        if instance is not None and ":" not in instance:
            raise ValueError(f"must be PROVIDER:NAME (got {shown(instance)})")
        return instance

    @model_validator(mode="after")
    def _free_has_volume(self) -> ScenarioFile:
        if isinstance(self.revenue, Free) and self.expected_monthly_calls is None:
            raise ValueError(
                "revenue model 'free' needs expected_monthly_calls "
                "(the cost at that volume is what a free service shows)"
            )
        return self

    def build(self, path: str, default_name: str) -> Scenario:
        return Scenario(
            path=path,
            name=self.name or default_name,
            workload=self.workload,
            batch_size=self.batch_size,
            instance=self.instance,
            plan=self.plan,
            utilization=self.utilization,
            expected_monthly_calls=self.expected_monthly_calls,
            direct_costs=self._direct_costs(),
            revenue=self._revenue(),
        )

    def _direct_costs(self) -> DirectCosts:
        return DirectCosts(**(self.direct_costs_per_call or DirectCostsModel()).model_dump())

    def _revenue(self) -> Revenue:
        revenue, workload = self.revenue, self.workload
        at: Location = ("revenue", revenue.model)
        if isinstance(revenue, PerCall):
            return Revenue("per_call", price_per_call_usd=revenue.price_usd)
        if isinstance(revenue, PerUnit):
            prices = []
            for unit, text in revenue.prices.items():
                with refused_at((*at, "prices", unit)):
                    check_unit(workload, unit, f"prices.{unit}")
                    prices.append(parse_price_value(text, workload, unit, f"prices.{unit}"))
            return Revenue("per_unit", unit_prices=tuple(prices))
        if isinstance(revenue, Bundle):
            if revenue.unit != CALL_UNIT:
                with refused_at((*at, "unit")):
                    check_unit(workload, revenue.unit, "unit")
            return Revenue(
                "bundle",
                package_price_usd=revenue.package_price_usd,
                included_units=revenue.included_units,
                bundle_unit=revenue.unit,
                expected_use_share=revenue.expected_use_share,
            )
        return Revenue("free")
