"""`gpucost ratecards list | show`: instances and their prices per hour."""

from __future__ import annotations

from collections.abc import Sequence

from harness.errors import BadInput
from harness.money.ratecard import ALL_PLANS, Instance, RateCards
from harness.render.notes import caveats, stale_price_note
from harness.render.terminal import Column, Screen, TextTable
from harness.render.text import EMPTY, quote_text


def _gpus(instance: Instance) -> str:
    return "CPU only" if instance.gpu_count == 0 else f"{instance.gpu} × {instance.gpu_count}"


def _plans(instance: Instance) -> str:
    prices = instance.prices_per_hour_usd
    unit = "" if instance.currency == "USD" else f" {instance.currency}"
    return ", ".join(
        f"{plan} {quote_text(prices[plan])}{unit}" for plan in ALL_PLANS if plan in prices
    )


# Plan columns leave the table, when it does not fit, from the least used plan.
_PLAN_DROP = {"on_demand": 0, "spot": 4, "reserved_1y": 6, "reserved_3y": 5}


def print_card_list(instances: Sequence[Instance], screen: Screen) -> None:
    plans = [p for p in ALL_PLANS if any(p in i.prices_per_hour_usd for i in instances)]
    short = {"reserved_1y": "1y", "reserved_3y": "3y", "on_demand": "on demand"}
    table = TextTable(
        "Rate cards: price per instance-hour",
        [Column("instance", shorten=True, min_width=30), Column("gpu", shorten=True, drop=2),
         *(Column(short.get(p, p), align="right", drop=_PLAN_DROP.get(p, 3)) for p in plans),
         Column("as of", drop=7)],
    )  # fmt: skip
    for instance in instances:
        unit = "" if instance.currency == "USD" else f" {instance.currency}"
        prices = [
            quote_text(instance.prices_per_hour_usd[p]) + unit
            if p in instance.prices_per_hour_usd
            else EMPTY
            for p in plans
        ]
        table.add_row(instance.key, _gpus(instance), *prices, instance.as_of)
    screen.table(table)
    screen.line(
        f"{len(instances)} instances. Add or override with --ratecard FILE or files in "
        "the ratecards folder of the gpucost config directory."
    )
    dates = sorted({(i.provider, i.as_of, "") for i in instances})
    screen.notes(caveats(stale_price_note(*d) for d in dates))


def print_card_details(cards: RateCards, name: str, screen: Screen) -> None:
    if ":" in name:
        instances = [cards.find(name, option="ratecards show")]
    else:
        instances = [i for i in cards.instances if i.provider == name]
        if not instances:
            raise BadInput(
                f"ratecards show {name!r}: no such provider "
                f"(providers: {', '.join(cards.providers())})"
            )
    for instance in instances:
        rows = [
            ("gpu", _gpus(instance)),
            ("vcpus", f"{instance.vcpus:g}"),
            ("memory", f"{instance.memory_gib:g} GiB"),
            ("region", instance.region),
            ("per hour", _plans(instance)),
            ("currency", instance.currency),
            ("as of", instance.as_of),
            ("source", instance.source),
            ("card", instance.card_path),
        ]
        owned = instance.self_hosted
        if owned is not None:
            rows += [
                ("capital per GPU", quote_text(owned.capital_cost_per_gpu_usd)),
                ("depreciation", f"{owned.depreciation_years:g} years"),
                ("hosting per hour", quote_text(owned.hosting_cost_per_hour_usd)),
                ("electricity per kWh", quote_text(owned.electricity_price_per_kwh_usd)),
                ("PUE", f"{owned.pue:g}"),
                (
                    "power",
                    "measured, else power limit"
                    if owned.power_w_per_gpu is None
                    else f"{owned.power_w_per_gpu:g} W",
                ),
            ]
        if instance.caveat:
            rows.append(("caveat", instance.caveat))
        screen.fields(instance.key, rows)
