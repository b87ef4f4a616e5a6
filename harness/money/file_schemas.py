"""JSON Schemas of the files a person writes by hand (rate cards, scenarios), for their editor.

The loaders in ratecard.py and scenario.py stay the authority (their one-line errors name the
file and entry); these pydantic models describe the same shape, and a test checks that both
accept the shipped files and refuse the same unknown fields. Imported only by
`gpucost ratecards schema`, so the other money commands never pay for pydantic.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.money.ratecard import (
    _FILE_FIELDS,
    _INSTANCE_FIELDS,
    _SELF_HOSTED_FIELDS,
    ALL_PLANS,
    PLANS,
)
from harness.money.scenario import _REVENUE_FIELDS, _TOP_FIELDS, REVENUE_MODELS

_STRICT = ConfigDict(extra="forbid")
Plan = Literal[PLANS]  # type: ignore[valid-type]


class SelfHosted(BaseModel):
    model_config = _STRICT
    capital_cost_per_gpu: float = Field(ge=0, description="purchase price of one GPU's share")
    depreciation_years: float = Field(gt=0)
    hosting_cost_per_hour: float = Field(ge=0, description="rack, network, staff per hour")
    electricity_price_per_kwh: float = Field(ge=0)
    pue: float = Field(ge=1.0, description="power usage effectiveness of the site")
    power_w: float | None = Field(default=None, gt=0, description="draw per GPU when busy")


class CardInstance(BaseModel):
    model_config = _STRICT
    name: str
    gpu: str = Field(description='canonical GPU key (e.g. "H100-SXM-80GB"); "none" for CPU')
    gpu_count: int = Field(ge=0, description="0 for CPU-only instances")
    vcpus: int = Field(ge=1)
    memory_gib: float = Field(gt=0)
    region: str
    prices_per_hour: dict[Plan, float] | None = Field(default=None, description="per instance-hour")
    self_hosted: SelfHosted | None = None
    caveat: str | None = None


class RateCard(BaseModel):
    """A gpucost rate card: one provider's instances and their prices per hour."""

    model_config = _STRICT
    provider: str
    currency: str = Field(description="ISO 4217 code, e.g. USD")
    as_of: dt.date
    source: str = Field(description="where the figures come from")
    caveat: str | None = None
    instances: list[CardInstance]


class DirectCostsModel(BaseModel):
    model_config = _STRICT
    third_party_api_usd: float = Field(default=0.0, ge=0)
    licence_usd: float = Field(default=0.0, ge=0)
    egress_usd_per_gb: float = Field(default=0.0, ge=0)
    egress_bytes: float = Field(default=0.0, ge=0)
    storage_usd_per_gb_month: float = Field(default=0.0, ge=0)
    storage_gb: float = Field(default=0.0, ge=0)
    storage_months: float = Field(default=0.0, ge=0)
    review_share: float = Field(default=0.0, ge=0, le=1)
    review_minutes: float = Field(default=0.0, ge=0)
    review_wage_usd_per_hour: float = Field(default=0.0, ge=0)


class PerCall(BaseModel):
    model_config = _STRICT
    model: Literal["per_call"]
    price_usd: float = Field(ge=0)


class PerUnit(BaseModel):
    model_config = _STRICT
    model: Literal["per_unit"]
    prices: dict[str, float | str] = Field(description='unit → price, e.g. "0.60/1M"')


class Bundle(BaseModel):
    model_config = _STRICT
    model: Literal["bundle"]
    package_price_usd: float = Field(ge=0)
    included_units: float = Field(gt=0)
    unit: str = "request"
    expected_use_share: float = Field(default=1.0, gt=0, le=1)


class Free(BaseModel):
    model_config = _STRICT
    model: Literal["free"]


class ScenarioFile(BaseModel):
    """A product scenario: direct costs and revenue per call of one service."""

    model_config = _STRICT
    name: str | None = None
    workload: str = Field(description="a workload measured in the run")
    batch_size: int | None = Field(default=None, ge=1)
    instance: str | None = Field(default=None, description="provider:instance")
    plan: Literal[ALL_PLANS] | None = None  # type: ignore[valid-type]
    utilization: float | None = Field(default=None, gt=0, le=1)
    expected_monthly_calls: float | None = Field(default=None, ge=0)
    direct_costs_per_call: DirectCostsModel | None = None
    revenue: PerCall | PerUnit | Bundle | Free = Field(discriminator="model")


def _same_fields(model: type[BaseModel], fields: tuple[str, ...]) -> None:
    if set(model.model_fields) != set(fields):  # a loader gained a field the schema lacks
        raise AssertionError(f"{model.__name__} fields differ from the loader's: {sorted(fields)}")


_same_fields(RateCard, _FILE_FIELDS)
_same_fields(CardInstance, _INSTANCE_FIELDS)
_same_fields(SelfHosted, _SELF_HOSTED_FIELDS)
_same_fields(ScenarioFile, _TOP_FIELDS)
for _model, _cls in zip(REVENUE_MODELS, (PerCall, PerUnit, Bundle, Free), strict=True):
    _same_fields(_cls, _REVENUE_FIELDS[_model])


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a "ratecard" or a "scenario" file."""
    model = RateCard if kind == "ratecard" else ScenarioFile
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
