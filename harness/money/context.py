"""What a cost is computed against: one value carried from the caller to the cost engine.

A new pricing knob (a carbon price per kWh, a cached-input discount) is a field here with a
default, read where the engine uses it; the callers that do not set it stay as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from harness.errors import BadInput
from harness.money.ratecard import Instance


def check_utilizations(utilizations: Iterable[float]) -> tuple[float, ...]:
    values = tuple(float(u) for u in utilizations)
    if not values:
        raise BadInput("--utilization: give at least one value")
    for u in values:
        if not (math.isfinite(u) and 0.0 < u <= 1.0):
            raise BadInput(f"--utilization {u:g}: must be a share with 0 < u ≤ 1")
    return values


@dataclass(frozen=True)
class PricingContext:
    """The instances to price on, the plans (None: every plan a card prices), the utilisations
    (shares of paid GPU time doing useful work) and the GPU key every row is priced as (None:
    the key of each row's own `gpu_name`)."""

    instances: tuple[Instance, ...]
    plans: tuple[str, ...] | None = None
    utilizations: tuple[float, ...] = (1.0,)
    gpu: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "instances", tuple(self.instances))
        object.__setattr__(self, "plans", None if self.plans is None else tuple(self.plans))
        object.__setattr__(self, "utilizations", check_utilizations(self.utilizations))

    def on(self, instances: Sequence[Instance]) -> PricingContext:
        """The same context on other instances."""
        return replace(self, instances=tuple(instances))

    def at(self, utilizations: Iterable[float]) -> PricingContext:
        """The same context at other utilisations."""
        return replace(self, utilizations=tuple(utilizations))
