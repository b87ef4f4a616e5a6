"""A product scenario: one service's workload, its direct costs per call and its revenue model.

A call is one request to the service (one row of `requests`; for embedding one sequence, for
retrieval one query, for image one image when a run has no request count). Direct costs are per
call; GB means 10⁹ bytes, as cloud bills count them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.money import checks
from harness.money.prices import CandidatePrice, check_unit, parse_price_value
from harness.money.ratecard import ALL_PLANS
from harness.money.units import units_by_workload

REVENUE_MODELS: tuple[str, ...] = ("per_call", "per_unit", "bundle", "free")
CALL_UNIT = "request"
BYTES_PER_GB = 1e9

_TOP_FIELDS = (
    "name",
    "workload",
    "batch_size",
    "instance",
    "plan",
    "utilization",
    "expected_monthly_calls",
    "direct_costs_per_call",
    "revenue",
)
_REVENUE_FIELDS: dict[str, tuple[str, ...]] = {
    "per_call": ("model", "price_usd"),
    "per_unit": ("model", "prices"),
    "bundle": ("model", "package_price_usd", "included_units", "unit", "expected_use_share"),
    "free": ("model",),
}


@dataclass(frozen=True)
class DirectCosts:
    """Costs per call on top of compute. Review: a share of calls is checked by a person."""

    third_party_api_usd: float = 0.0
    licence_usd: float = 0.0
    egress_usd_per_gb: float = 0.0
    egress_bytes: float = 0.0
    storage_usd_per_gb_month: float = 0.0
    storage_gb: float = 0.0
    storage_months: float = 0.0
    review_share: float = 0.0
    review_minutes: float = 0.0
    review_wage_usd_per_hour: float = 0.0

    def breakdown_usd(self) -> dict[str, float]:
        return {
            "third_party_api": self.third_party_api_usd,
            "licence": self.licence_usd,
            "egress": self.egress_usd_per_gb * self.egress_bytes / BYTES_PER_GB,
            "storage": self.storage_usd_per_gb_month * self.storage_gb * self.storage_months,
            "human_review": (
                self.review_share * self.review_minutes * self.review_wage_usd_per_hour / 60.0
            ),
        }

    def per_call_usd(self) -> float:
        return sum(self.breakdown_usd().values())


@dataclass(frozen=True)
class Revenue:
    """`per_call`: price_per_call_usd. `per_unit`: unit_prices (summed per call). `bundle`:
    package_price_usd ÷ (included_units × expected_use_share), per bundle_unit. `free`: none."""

    model: str
    price_per_call_usd: float | None = None
    unit_prices: tuple[CandidatePrice, ...] = ()
    package_price_usd: float | None = None
    included_units: float | None = None
    bundle_unit: str = CALL_UNIT
    expected_use_share: float = 1.0


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    workload: str
    batch_size: int | None
    instance: str | None
    plan: str | None
    utilization: float | None
    expected_monthly_calls: float | None
    direct_costs: DirectCosts
    revenue: Revenue


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; every error names the file and the field."""
    path = Path(path)
    where = str(path)
    data = checks.read_yaml_mapping(path, "scenario")
    checks.reject_unknown(data, _TOP_FIELDS, where)
    workload = checks.text(checks.require(data, "workload", where), "workload", where)
    known = units_by_workload()
    if workload not in known:
        raise BadInput(
            f"{where}: workload {checks.shown(workload)} is unknown (workloads: {', '.join(known)})"
        )
    batch_size = data.get("batch_size")
    if batch_size is not None:
        batch_size = checks.integer(batch_size, "batch_size", where, minimum=1)
    plan = data.get("plan")
    if plan is not None and plan not in ALL_PLANS:
        raise BadInput(f"{where}: unknown plan {checks.shown(plan)} (plans: {', '.join(ALL_PLANS)})")
    utilization = data.get("utilization")
    if utilization is not None:
        utilization = checks.share(utilization, "utilization", where)
        if utilization == 0:
            raise BadInput(f"{where}: utilization must be > 0")
    instance = data.get("instance")
    if instance is not None:
        instance = checks.text(instance, "instance", where)
        if ":" not in instance:
            raise BadInput(f"{where}: instance must be PROVIDER:NAME (got {checks.shown(instance)})")
    monthly = data.get("expected_monthly_calls")
    if monthly is not None:
        monthly = checks.number(monthly, "expected_monthly_calls", where)
    revenue = _parse_revenue(checks.require(data, "revenue", where), workload, where)
    if revenue.model == "free" and monthly is None:
        raise BadInput(
            f"{where}: revenue model 'free' needs expected_monthly_calls "
            "(the cost at that volume is what a free service shows)"
        )
    return Scenario(
        path=where,
        name=str(data.get("name") or path.stem),
        workload=workload,
        batch_size=batch_size,
        instance=instance,
        plan=plan,
        utilization=utilization,
        expected_monthly_calls=monthly,
        direct_costs=_parse_direct_costs(data.get("direct_costs_per_call") or {}, where),
        revenue=revenue,
    )


def _parse_direct_costs(value: Any, where: str) -> DirectCosts:
    where = f"{where}: direct_costs_per_call"
    if not isinstance(value, dict):
        raise BadInput(f"{where}: expected a mapping of fields")
    names = tuple(f.name for f in fields(DirectCosts))
    checks.reject_unknown(value, names, where)
    parsed: dict[str, float] = {}
    for name, raw in value.items():
        if name == "review_share":
            parsed[name] = checks.share(raw, name, where)
        else:
            parsed[name] = checks.number(raw, name, where)
    return DirectCosts(**parsed)


def _parse_revenue(value: Any, workload: str, where: str) -> Revenue:
    where = f"{where}: revenue"
    if not isinstance(value, dict):
        raise BadInput(f"{where}: expected a mapping with a model ({', '.join(REVENUE_MODELS)})")
    model = checks.require(value, "model", where)
    if model not in REVENUE_MODELS:
        raise BadInput(
            f"{where}: unknown revenue model {checks.shown(model)} (models: {', '.join(REVENUE_MODELS)})"
        )
    checks.reject_unknown(value, _REVENUE_FIELDS[model], f"{where} ({model})")
    if model == "per_call":
        price = checks.number(checks.require(value, "price_usd", where), "price_usd", where)
        return Revenue(model, price_per_call_usd=price)
    if model == "per_unit":
        prices = checks.require(value, "prices", where)
        if not isinstance(prices, dict) or not prices:
            raise BadInput(
                f"{where}: prices must map units to prices, e.g. {{output_token: 0.60/1M}}"
            )
        parsed = []
        for unit, raw in prices.items():
            field_where = f"{where}: prices.{unit}"
            check_unit(workload, str(unit), field_where)
            parsed.append(parse_price_value(str(raw), workload, str(unit), field_where))
        return Revenue(model, unit_prices=tuple(parsed))
    if model == "bundle":
        package = checks.number(
            checks.require(value, "package_price_usd", where), "package_price_usd", where
        )
        included = checks.number(
            checks.require(value, "included_units", where), "included_units", where, strict=True
        )
        unit = str(value.get("unit", CALL_UNIT))
        if unit != CALL_UNIT:
            check_unit(workload, unit, f"{where}: unit")
        use = checks.share(value.get("expected_use_share", 1.0), "expected_use_share", where)
        if use == 0:
            raise BadInput(f"{where}: expected_use_share must be > 0")
        return Revenue(
            model,
            package_price_usd=package,
            included_units=included,
            bundle_unit=unit,
            expected_use_share=use,
        )
    return Revenue(model)
