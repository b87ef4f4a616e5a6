"""The rate card file: one provider's instances and their prices per hour."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from harness.errors import shown
from harness.gpus import CPU_ONLY, gpu_keys, is_gpu_key
from harness.money.file_schemas.fields import (
    AtLeastOne,
    Count,
    Currency,
    Date,
    FieldError,
    NonNegative,
    Positive,
    Strict,
    Text,
)
from harness.money.ratecard import OWNED_PLAN, PLANS, CardFile, Instance, SelfHostedCost


class SelfHosted(Strict):
    capital_cost_per_gpu: NonNegative = Field(description="purchase price of one GPU's share")
    depreciation_years: Positive
    hosting_cost_per_hour: NonNegative = Field(description="rack, network, staff per hour")
    electricity_price_per_kwh: NonNegative
    pue: AtLeastOne = Field(description="power usage effectiveness of the site")
    power_w: Positive | None = Field(default=None, description="draw per GPU when busy")

    def cost(self) -> SelfHostedCost:
        return SelfHostedCost(
            capital_cost_per_gpu_usd=self.capital_cost_per_gpu,
            depreciation_years=self.depreciation_years,
            hosting_cost_per_hour_usd=self.hosting_cost_per_hour,
            electricity_price_per_kwh_usd=self.electricity_price_per_kwh,
            pue=self.pue,
            power_w_per_gpu=self.power_w,
        )


class CardInstance(Strict):
    name: Text
    gpu: Text = Field(description='canonical GPU key (e.g. "H100-SXM-80GB"); "none" for CPU')
    gpu_count: Count = Field(ge=0, description="0 for CPU-only instances")
    vcpus: Positive = Field(description="may be fractional (shared-core machines)")
    memory_gib: Positive
    region: Text
    prices_per_hour: dict[str, NonNegative] | None = Field(
        default=None, description="plan: price per instance-hour",
        json_schema_extra={"propertyNames": {"enum": list(PLANS)}, "minProperties": 1},
    )  # fmt: skip
    self_hosted: SelfHosted | None = None
    caveat: Text | None = None

    @field_validator("gpu")
    @classmethod
    def _known_gpu(cls, gpu: str) -> str:
        if not is_gpu_key(gpu):
            valid = ", ".join((*gpu_keys(), CPU_ONLY))
            raise ValueError(f"unknown gpu {shown(gpu)} (valid: {valid})")
        return gpu

    @field_validator("prices_per_hour")
    @classmethod
    def _known_plans(cls, prices: dict[str, float] | None) -> dict[str, float] | None:
        if prices is not None and not prices:
            raise ValueError("must be a mapping of plan: price, e.g. {on_demand: 1.006}")
        for plan in prices or {}:
            if plan not in PLANS:
                raise ValueError(f"unknown plan {shown(plan)} (plans: {', '.join(PLANS)})")
        return prices

    @model_validator(mode="after")
    def _consistent(self) -> CardInstance:
        if self.gpu == CPU_ONLY and self.gpu_count != 0:
            raise ValueError("gpu_count must be 0 for a CPU-only instance (gpu: none)")
        if self.gpu != CPU_ONLY and self.gpu_count < 1:
            raise ValueError(f"gpu_count must be ≥ 1 for gpu {self.gpu!r}")
        if (self.prices_per_hour is None) == (self.self_hosted is None):
            raise ValueError("give exactly one of prices_per_hour or self_hosted")
        return self


class RateCard(Strict):
    """A gpucost rate card: one provider's instances and their prices per hour."""

    provider: Text
    currency: Currency
    as_of: Date
    source: Text = Field(description="where the figures come from")
    caveat: Text | None = None
    instances: list[CardInstance] = Field(min_length=1)

    def build(self, path: str) -> tuple[CardFile, list[Instance]]:
        """The card's instances as pricing uses them; money stays in the card's currency."""
        as_of = self.as_of.isoformat()
        seen: dict[str, int] = {}
        instances: list[Instance] = []
        for index, entry in enumerate(self.instances):
            if entry.name in seen:
                raise FieldError(
                    ("instances", index), f"duplicate instance (also entry #{seen[entry.name]})"
                )
            seen[entry.name] = index + 1
            owned = entry.self_hosted.cost() if entry.self_hosted else None
            prices = (
                {OWNED_PLAN: owned.price_per_hour_usd(entry.gpu_count)}
                if owned
                else dict(entry.prices_per_hour or {})
            )
            # An instance's own caveat adds to the file's, which holds for every entry.
            caveat = "; ".join(c for c in (self.caveat, entry.caveat) if c) or None
            instances.append(Instance(
                provider=self.provider, name=entry.name, gpu=entry.gpu,
                gpu_count=entry.gpu_count, vcpus=entry.vcpus, memory_gib=entry.memory_gib,
                region=entry.region, prices_per_hour_usd=prices, currency=self.currency,
                as_of=as_of, source=self.source, caveat=caveat, self_hosted=owned,
                card_path=path,
            ))  # fmt: skip
        card = CardFile(path, self.provider, self.currency, as_of, self.source, len(instances))
        return card, instances
