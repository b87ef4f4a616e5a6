"""Rate cards as pricing uses them: instances, plans, and where the card files live.

The files are read and checked by `inputs.py` through the models in `file_schemas/`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click

from harness.errors import BadInput

PLANS: tuple[str, ...] = ("on_demand", "spot", "reserved_1y", "reserved_3y")
"""Purchase plans a cloud card may price."""

OWNED_PLAN = "owned"
"""The plan of self-hosted instances: capital, hosting and energy instead of a rental price."""

ALL_PLANS: tuple[str, ...] = (*PLANS, OWNED_PLAN)
HOURS_PER_YEAR = 8760.0

def check_plan(plan: str) -> str:
    """`plan` when it is one of ALL_PLANS; BadInput naming `--plan` and the plans otherwise."""
    if plan not in ALL_PLANS:
        raise BadInput(f"--plan {plan!r}: unknown plan (plans: {', '.join(ALL_PLANS)})")
    return plan


@dataclass(frozen=True)
class SelfHostedCost:
    """Owned hardware. Money is in the card's currency; `power_w_per_gpu` (optional) is the draw
    assumed when a run measured no energy (per machine for CPU-only instances)."""

    capital_cost_per_gpu_usd: float
    depreciation_years: float
    hosting_cost_per_hour_usd: float
    electricity_price_per_kwh_usd: float
    pue: float
    power_w_per_gpu: float | None = None

    def price_per_hour_usd(self, gpu_count: int) -> float:
        """Straight-line depreciation over the years, plus hosting; energy is added per batch."""
        capital = self.capital_cost_per_gpu_usd * max(gpu_count, 1)
        return capital / (self.depreciation_years * HOURS_PER_YEAR) + self.hosting_cost_per_hour_usd


@dataclass(frozen=True)
class Instance:
    provider: str
    name: str
    gpu: str
    gpu_count: int
    vcpus: float
    memory_gib: float
    region: str
    prices_per_hour_usd: dict[str, float]
    currency: str
    as_of: str
    source: str
    caveat: str | None
    self_hosted: SelfHostedCost | None
    card_path: str = ""

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.name}"


@dataclass(frozen=True)
class CardFile:
    path: str
    provider: str
    currency: str
    as_of: str
    source: str
    instance_count: int


@dataclass(frozen=True)
class RateCards:
    instances: tuple[Instance, ...]
    files: tuple[CardFile, ...]

    def find(self, ref: str, option: str = "--instance") -> Instance:
        """An instance by `provider:name`, or BadInput (naming `option`) saying what exists."""
        provider, sep, name = ref.partition(":")
        if not sep or not provider or not name:
            raise BadInput(f"{option} {ref!r}: expected PROVIDER:NAME, e.g. aws:g5.xlarge")
        for instance in self.instances:
            if instance.provider == provider and instance.name == name:
                return instance
        # Another spelling of one instance (AWS:G6E.XLARGE, aws:g6e-xlarge) is that instance.
        loose = [
            i for i in self.instances
            if i.provider.lower() == provider.strip().lower()
            and _spelling(i.name) == _spelling(name)
        ]  # fmt: skip
        if len(loose) == 1:
            return loose[0]
        if loose:
            keys = ", ".join(i.key for i in loose)
            raise BadInput(f"{option} {ref!r}: could be any of {keys}; give one exactly")
        if provider not in self.providers():
            raise BadInput(
                f"{option} {ref!r}: unknown provider {provider!r} "
                f"(providers: {', '.join(self.providers())})"
            )
        names = ", ".join(i.name for i in self.instances if i.provider == provider)
        raise BadInput(f"{option} {ref!r}: {provider} has no instance {name!r} (has: {names})")

    def providers(self) -> list[str]:
        return sorted({i.provider for i in self.instances})

    def gpu_keys(self) -> list[str]:
        """GPU keys some loaded instance carries."""
        return sorted({i.gpu for i in self.instances})


def _spelling(name: str) -> str:
    """An instance name with case and the separators clouds mix up (`.`, `-`, `_`) set aside."""
    return re.sub(r"[-_.]+", "-", name.strip().lower())


def user_ratecard_dir() -> Path:
    """`$GPUCOST_CONFIG_DIR/ratecards`, or the platform's config folder for gpucost."""
    configured = os.environ.get("GPUCOST_CONFIG_DIR")
    if configured:
        return Path(configured) / "ratecards"
    return Path(click.get_app_dir("gpucost")) / "ratecards"


def shipped_card_paths() -> list[Path]:
    folder = resources.files("ratecards")
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith((".yaml", ".yml")))


def user_card_paths() -> list[Path]:
    folder = user_ratecard_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def is_market_card(data: Mapping[str, Any]) -> bool:
    return "prices" in data and "instances" not in data
