"""Rate cards: load the shipped YAML files, the user's own, and check every entry on the way in."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click

from harness.errors import BadInput
from harness.gpus import CPU_ONLY, gpu_keys, is_gpu_key
from harness.money import checks

PLANS: tuple[str, ...] = ("on_demand", "spot", "reserved_1y", "reserved_3y")
"""Purchase plans a cloud card may price."""

OWNED_PLAN = "owned"
"""The plan of self-hosted instances: capital, hosting and energy instead of a rental price."""

ALL_PLANS: tuple[str, ...] = (*PLANS, OWNED_PLAN)
HOURS_PER_YEAR = 8760.0

_FILE_FIELDS = ("provider", "currency", "as_of", "source", "caveat", "instances")
_INSTANCE_FIELDS = (
    "name",
    "gpu",
    "gpu_count",
    "vcpus",
    "memory_gib",
    "region",
    "prices_per_hour",
    "self_hosted",
    "caveat",
)
_SELF_HOSTED_FIELDS = (
    "capital_cost_per_gpu",
    "depreciation_years",
    "hosting_cost_per_hour",
    "electricity_price_per_kwh",
    "pue",
    "power_w",
)


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


def load_ratecards(
    extra_files: Iterable[str | Path] = (), include_user_dir: bool = True
) -> RateCards:
    """Shipped cards, then the user's folder, then `extra_files`; same provider + name replaces.

    Market-price files (a `prices:` list instead of `instances:`) are skipped here: those are
    candidate prices, read by `market_prices`.
    """
    paths = shipped_card_paths() + (user_card_paths() if include_user_dir else [])
    explicit = [Path(p) for p in extra_files]
    merged: dict[tuple[str, str], Instance] = {}
    files: list[CardFile] = []
    for path in [*paths, *explicit]:
        data = checks.read_yaml_mapping(path, "rate card")
        if is_market_card(data):
            continue
        card, instances = parse_card(data, path)
        files.append(card)
        for instance in instances:
            merged[(instance.provider, instance.name)] = instance
    return RateCards(instances=tuple(merged.values()), files=tuple(files))


def load_card_file(path: str | Path) -> tuple[CardFile, list[Instance]]:
    path = Path(path)
    return parse_card(checks.read_yaml_mapping(path, "rate card"), path)


def parse_card(data: Mapping[str, Any], path: Path) -> tuple[CardFile, list[Instance]]:
    where = str(path)
    checks.reject_unknown(data, _FILE_FIELDS, where)
    provider = checks.text(checks.require(data, "provider", where), "provider", where)
    currency = checks.currency(checks.require(data, "currency", where), where)
    as_of = checks.as_of_date(checks.require(data, "as_of", where), where)
    source = checks.text(checks.require(data, "source", where), "source", where)
    file_caveat = data.get("caveat")
    if file_caveat is not None:
        file_caveat = checks.text(file_caveat, "caveat", where)
    entries = checks.require(data, "instances", where)
    if not isinstance(entries, list) or not entries:
        raise BadInput(f"{where}: instances must be a non-empty list")
    instances: list[Instance] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries, start=1):
        label = entry.get("name") if isinstance(entry, dict) else None
        named = isinstance(label, str) and label.strip()
        entry_where = f"{where}: instance {checks.shown(label) if named else f'#{index}'}"
        if not isinstance(entry, dict):
            raise BadInput(f"{entry_where}: expected a mapping of fields")
        instance = _parse_instance(
            entry,
            entry_where,
            provider,
            currency,
            as_of,
            source,
            str(file_caveat) if file_caveat else None,
            where,
        )
        if instance.name in seen:
            raise BadInput(f"{entry_where}: duplicate instance (also entry #{seen[instance.name]})")
        seen[instance.name] = index
        instances.append(instance)
    card = CardFile(where, provider, currency, as_of, source, len(instances))
    return card, instances


def _parse_instance(
    entry: Mapping[str, Any],
    where: str,
    provider: str,
    currency: str,
    as_of: str,
    source: str,
    file_caveat: str | None,
    path: str,
) -> Instance:
    checks.reject_unknown(entry, _INSTANCE_FIELDS, where)
    name = checks.text(checks.require(entry, "name", where), "name", where)
    gpu = checks.text(checks.require(entry, "gpu", where), "gpu", where)
    if not is_gpu_key(gpu):
        raise BadInput(f"{where}: unknown gpu {checks.shown(gpu)} (valid: {', '.join((*gpu_keys(), CPU_ONLY))})")
    gpu_count = checks.integer(checks.require(entry, "gpu_count", where), "gpu_count", where)
    if gpu == CPU_ONLY and gpu_count != 0:
        raise BadInput(f"{where}: gpu_count must be 0 for a CPU-only instance (gpu: none)")
    if gpu != CPU_ONLY and gpu_count < 1:
        raise BadInput(f"{where}: gpu_count must be ≥ 1 for gpu {gpu!r}")
    vcpus = checks.number(checks.require(entry, "vcpus", where), "vcpus", where, strict=True)
    memory = checks.number(
        checks.require(entry, "memory_gib", where), "memory_gib", where, strict=True
    )
    region = checks.text(checks.require(entry, "region", where), "region", where)
    has_prices, has_owned = "prices_per_hour" in entry, "self_hosted" in entry
    if has_prices == has_owned:
        raise BadInput(f"{where}: give exactly one of prices_per_hour or self_hosted")
    self_hosted = None
    if has_prices:
        prices = _parse_prices(entry["prices_per_hour"], where)
    else:
        self_hosted = _parse_self_hosted(entry["self_hosted"], where)
        prices = {OWNED_PLAN: self_hosted.price_per_hour_usd(gpu_count)}
    # An instance's own caveat adds to the file's, which holds for every entry.
    own = entry.get("caveat")
    own = None if own is None else checks.text(own, "caveat", where)
    caveat = "; ".join(c for c in (file_caveat, own) if c) or None
    return Instance(
        provider=provider,
        name=name,
        gpu=gpu,
        gpu_count=gpu_count,
        vcpus=vcpus,
        memory_gib=memory,
        region=region,
        prices_per_hour_usd=prices,
        currency=currency,
        as_of=as_of,
        source=source,
        caveat=str(caveat) if caveat else None,
        self_hosted=self_hosted,
        card_path=path,
    )


def _parse_prices(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise BadInput(
            f"{where}: prices_per_hour must be a mapping of plan: price, e.g. {{on_demand: 1.006}}"
        )
    prices: dict[str, float] = {}
    for plan, price in value.items():
        if plan not in PLANS:
            raise BadInput(f"{where}: unknown plan {checks.shown(plan)} (plans: {', '.join(PLANS)})")
        prices[plan] = checks.number(price, f"prices_per_hour.{plan}", where)
    return prices


def _parse_self_hosted(value: Any, where: str) -> SelfHostedCost:
    if not isinstance(value, dict):
        raise BadInput(f"{where}: self_hosted must be a mapping of fields")
    where_sh = f"{where}: self_hosted"
    checks.reject_unknown(value, _SELF_HOSTED_FIELDS, where_sh)

    def field(name: str, **kwargs: Any) -> float:
        return checks.number(checks.require(value, name, where_sh), name, where_sh, **kwargs)

    power = value.get("power_w")
    return SelfHostedCost(
        capital_cost_per_gpu_usd=field("capital_cost_per_gpu"),
        depreciation_years=field("depreciation_years", strict=True),
        hosting_cost_per_hour_usd=field("hosting_cost_per_hour"),
        electricity_price_per_kwh_usd=field("electricity_price_per_kwh"),
        pue=field("pue", minimum=1.0),
        power_w_per_gpu=None
        if power is None
        else checks.number(power, "power_w", where_sh, strict=True),
    )
