"""Cost and pricing: rate cards, cost per unit of work, gross margin. Never imports torch.

Names are loaded on first use, so `from harness.money import load_ratecards` stays cheap and
does not pull in pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "PricingContext": "context",
    "COST_COLUMNS": "cost",
    "PRICED_COLUMNS": "cost",
    "batch_costs": "cost",
    "instance_frame": "cost",
    "unit_costs": "cost",
    "DEFAULT_TARGET_MARGINS": "margin",
    "apply_prices": "margin",
    "gross_margin": "margin",
    "parse_target_margin": "margin",
    "price_for_margin": "margin",
    "CandidatePrice": "prices",
    "market_prices": "inputs",
    "parse_price": "prices",
    "PriceRequest": "pricing",
    "PriceResult": "pricing",
    "Sensitivity": "pricing",
    "display_scale": "units",
    "price_runs": "pricing",
    "ALL_PLANS": "ratecard",
    "OWNED_PLAN": "ratecard",
    "PLANS": "ratecard",
    "CardFile": "ratecard",
    "Instance": "ratecard",
    "RateCards": "ratecard",
    "SelfHostedCost": "ratecard",
    "load_card_file": "inputs",
    "load_ratecards": "inputs",
    "DirectCosts": "scenario",
    "Revenue": "scenario",
    "Scenario": "scenario",
    "load_scenario": "inputs",
    "scenario_costs": "scenario_cost",
    "PRIMARY_UNIT": "units",
    "UNIT_SPECS": "units",
    "UNITS_BY_WORKLOAD": "units",
    "UnitSpec": "units",
}

__all__ = [
    "ALL_PLANS",
    "COST_COLUMNS",
    "DEFAULT_TARGET_MARGINS",
    "OWNED_PLAN",
    "PLANS",
    "PRICED_COLUMNS",
    "PRIMARY_UNIT",
    "UNITS_BY_WORKLOAD",
    "UNIT_SPECS",
    "CandidatePrice",
    "CardFile",
    "DirectCosts",
    "Instance",
    "PriceRequest",
    "PriceResult",
    "PricingContext",
    "RateCards",
    "Revenue",
    "Scenario",
    "SelfHostedCost",
    "Sensitivity",
    "UnitSpec",
    "apply_prices",
    "batch_costs",
    "display_scale",
    "gross_margin",
    "instance_frame",
    "load_card_file",
    "load_ratecards",
    "load_scenario",
    "market_prices",
    "parse_price",
    "parse_target_margin",
    "price_for_margin",
    "price_runs",
    "scenario_costs",
    "unit_costs",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.money' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"harness.money.{module}"), name)
    if name not in _REGISTRY_VIEWS:
        globals()[name] = value
    return value


_REGISTRY_VIEWS = frozenset({"PRIMARY_UNIT", "UNIT_SPECS", "UNITS_BY_WORKLOAD"})
"""Computed from the workload registry on each access (a plugin may be installed later)."""


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from harness.money.context import PricingContext
    from harness.money.cost import (
        COST_COLUMNS,
        PRICED_COLUMNS,
        batch_costs,
        instance_frame,
        unit_costs,
    )
    from harness.money.inputs import load_card_file, load_ratecards, load_scenario, market_prices
    from harness.money.margin import (
        DEFAULT_TARGET_MARGINS,
        apply_prices,
        gross_margin,
        parse_target_margin,
        price_for_margin,
    )
    from harness.money.prices import CandidatePrice, parse_price
    from harness.money.pricing import (
        PriceRequest,
        PriceResult,
        Sensitivity,
        price_runs,
    )
    from harness.money.ratecard import (
        ALL_PLANS,
        OWNED_PLAN,
        PLANS,
        CardFile,
        Instance,
        RateCards,
        SelfHostedCost,
    )
    from harness.money.scenario import DirectCosts, Revenue, Scenario
    from harness.money.scenario_cost import scenario_costs
    from harness.money.units import (
        PRIMARY_UNIT,
        UNIT_SPECS,
        UNITS_BY_WORKLOAD,
        UnitSpec,
        display_scale,
    )
