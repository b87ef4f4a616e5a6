"""`gpucost ratecards list | show`: instances and their prices per hour."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from harness.errors import BadInput
from harness.money.console import emit, make_console, table_for
from harness.money.prices import money_text
from harness.money.ratecard import ALL_PLANS, Instance, RateCards


def _gpus(instance: Instance) -> str:
    return "CPU only" if instance.gpu_count == 0 else f"{instance.gpu} × {instance.gpu_count}"


def _plans(instance: Instance) -> str:
    prices = instance.prices_per_hour_usd
    unit = "" if instance.currency == "USD" else f" {instance.currency}"
    return ", ".join(
        f"{plan} {money_text(prices[plan])}{unit}" for plan in ALL_PLANS if plan in prices
    )


def print_card_list(instances: Sequence[Instance], console: Console | None = None) -> None:
    console = make_console(console)
    plans = [p for p in ALL_PLANS if any(p in i.prices_per_hour_usd for i in instances)]
    table = table_for("Rate cards: price per instance-hour", console)
    table.add_column("instance")
    table.add_column("gpu")
    for plan in plans:
        table.add_column(plan, justify="right")
    table.add_column("as of")
    for instance in instances:
        unit = "" if instance.currency == "USD" else f" {instance.currency}"
        prices = [
            money_text(instance.prices_per_hour_usd[p]) + unit
            if p in instance.prices_per_hour_usd
            else "—"
            for p in plans
        ]
        table.add_row(instance.key, _gpus(instance), *prices, instance.as_of)
    emit(table, console)
    console.print(
        f"{len(instances)} instances. Add or override with --ratecard FILE or files in "
        "the ratecards folder of the gpucost config directory.",
        highlight=False,
    )


def print_card_details(cards: RateCards, name: str, console: Console | None = None) -> None:
    console = make_console(console)
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
        table = table_for(instance.key, console)
        table.add_column("field")
        table.add_column("value")
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
                ("capital per GPU", money_text(owned.capital_cost_per_gpu_usd)),
                ("depreciation", f"{owned.depreciation_years:g} years"),
                ("hosting per hour", money_text(owned.hosting_cost_per_hour_usd)),
                ("electricity per kWh", money_text(owned.electricity_price_per_kwh_usd)),
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
        for field, value in rows:
            table.add_row(field, value)
        emit(table, console)
