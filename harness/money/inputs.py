"""Loading the hand-written input files: read safely, validate by their model, build typed objects.

Every rate card, market-price file and scenario comes in here, and is checked whole before any
pricing starts; what leaves is the typed objects pricing computes with (`RateCards`,
`CandidatePrice`, `Scenario`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.money.file_schemas import MarketFile, RateCard, ScenarioFile, built, validated
from harness.money.prices import CandidatePrice
from harness.money.ratecard import (
    CardFile,
    Instance,
    RateCards,
    is_market_card,
    shipped_card_paths,
    user_card_paths,
)
from harness.money.scenario import Scenario
from harness.money.yamlfile import YamlFile, read_yaml


def card_from(file: YamlFile) -> tuple[CardFile, list[Instance]]:
    card: RateCard = validated(RateCard, file)
    return built(file, lambda: card.build(str(file.path)))


def market_from(file: YamlFile) -> list[tuple[CandidatePrice, bool]]:
    """Entries of a market-price file with their `default` flag."""
    market: MarketFile = validated(MarketFile, file)
    return built(file, market.build)


def load_card_file(path: str | Path) -> tuple[CardFile, list[Instance]]:
    return card_from(read_yaml(Path(path), "rate card"))


def load_ratecards(
    extra_files: Iterable[str | Path] = (), include_user_dir: bool = True
) -> RateCards:
    """Shipped cards, then the user's folder, then `extra_files`; same provider + name replaces.

    Market-price files (a `prices:` list instead of `instances:`) are skipped here: those are
    candidate prices, read by `market_prices`.
    """
    paths = shipped_card_paths() + (user_card_paths() if include_user_dir else [])
    merged: dict[tuple[str, str], Instance] = {}
    files: list[CardFile] = []
    for path in [*paths, *(Path(p) for p in extra_files)]:
        file = read_yaml(path, "rate card")
        if is_market_card(file.data):
            continue
        card, instances = card_from(file)
        files.append(card)
        for instance in instances:
            merged[(instance.provider, instance.name)] = instance
    return RateCards(instances=tuple(merged.values()), files=tuple(files))


def market_prices(
    extra_files: Iterable[str | Path] = (),
    include_user_dir: bool = True,
    all_products: bool = False,
) -> list[CandidatePrice]:
    """Hosted-API reference prices: one default per unit, or every product with `all_products`.

    The shipped `ratecards/market.yaml` comes first; market files in the user's rate-card folder
    and in `extra_files` replace entries of the same unit and product, and a default they mark
    replaces the shipped default for that unit.
    """
    paths = shipped_card_paths() + (user_card_paths() if include_user_dir else [])
    merged: dict[tuple[str, str], CandidatePrice] = {}
    defaults: dict[str, str] = {}
    for path in [*paths, *(Path(p) for p in extra_files)]:
        file = read_yaml(path, "market price")
        if not is_market_card(file.data):
            continue
        for price, default in market_from(file):
            merged[(price.key, price.label)] = price
            if default:
                defaults[price.key] = price.label
    if all_products:
        return list(merged.values())
    return [p for (key, label), p in merged.items() if defaults.get(key) == label]


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file; every error names the file, the line and the field."""
    file = read_yaml(Path(path), "scenario")
    scenario: ScenarioFile = validated(ScenarioFile, file)
    return built(file, lambda: scenario.build(str(file.path), file.path.stem))
