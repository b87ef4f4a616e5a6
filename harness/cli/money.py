"""`gpucost price` and `gpucost ratecards`: thin click commands over harness.money."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.cli.options import (
    FORMAT,
    RATECARD_REPLACES_HELP,
    RUNS,
    gpu_option,
    instance_option,
    output_option,
    plan_option,
    price_option,
    ratecard_option,
    scenario_option,
    utilization_option,
    write_output,
)

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from harness.money.ratecard import RateCards

__all__ = ["price", "print_market_summary", "ratecards"]


def print_market_summary(run_dir: Path, console: Console | None = None) -> None:
    """Cost and margin at market prices for a finished run; one line instead when unpriceable."""
    from harness.money.tables import print_market_summary as summary

    summary(run_dir, console)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values, with None where a value is missing (JSON null)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}
        for row in clean.to_dict("records")
    ]


def _render(result: Any, fmt: str, top: int) -> str:
    if fmt in ("csv", "json"):
        frame = result.scenario_rows if result.scenario_rows is not None else result.costs
        if fmt == "csv":
            return frame.to_csv(index=False)
        return json.dumps(_records(frame), indent=2) + "\n"
    from harness.money.console import render_text
    from harness.money.tables import render_price_result

    return render_text(lambda console: render_price_result(result, console, top))


@click.command()
@RUNS
@instance_option()
@plan_option()
@utilization_option()
@price_option()
@scenario_option("Product scenario YAML: direct costs per call and revenue model.")
@ratecard_option(
    f"{RATECARD_REPLACES_HELP} A file with a `prices:` list adds market reference prices instead."
)
@gpu_option("Price as if the run's GPU were KEY (e.g. H100-SXM-80GB).")
@click.option(
    "--target-margin",
    "target_margins",
    multiple=True,
    metavar="PCT",
    help="Target gross margin in % for suggested prices (repeatable; default 50, 70, 80).",
)
@FORMAT
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Cheapest options shown per batch size in the table.",
)
@output_option("Write to this file instead of the screen.", files_only=True)
def price(
    runs: tuple[Path, ...],
    instance_refs: tuple[str, ...],
    plans: tuple[str, ...],
    utilizations: tuple[float, ...],
    price_texts: tuple[str, ...],
    scenario: Path | None,
    ratecard_files: tuple[Path, ...],
    gpu: str | None,
    target_margins: tuple[str, ...],
    fmt: str,
    top: int,
    output: Path | None,
) -> None:
    """Cost per unit of work for RUN folders on every matching instance and plan, and the
    gross margin each candidate price leaves."""
    from harness.money.margin import DEFAULT_TARGET_MARGINS, parse_target_margin
    from harness.money.pricing import PriceRequest, price_runs

    margins = tuple(parse_target_margin(t) for t in target_margins) or DEFAULT_TARGET_MARGINS
    request = PriceRequest(
        run_paths=runs,
        instance_refs=instance_refs,
        plans=plans,
        utilizations=utilizations,
        price_texts=price_texts,
        scenario_path=scenario,
        ratecard_files=ratecard_files,
        gpu=gpu,
        target_margins=margins,
        with_sensitivity=fmt == "table",
    )
    text = _render(price_runs(request), fmt, top)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text)
    click.echo(f"wrote {output}", err=True)


@click.group()
def ratecards() -> None:
    """Rate cards: list them, show one, or check a file."""


@ratecards.command("list")
@ratecard_option()
def list_cards(ratecard_files: tuple[Path, ...]) -> None:
    """Every instance of the shipped and user cards, with its prices per hour."""
    from harness.money.ratecard_tables import print_card_list

    _echo_cards(ratecard_files, lambda cards, console: print_card_list(cards.instances, console))


@ratecards.command("show")
@click.argument("name")
@ratecard_option()
def show_card(name: str, ratecard_files: tuple[Path, ...]) -> None:
    """Details of a provider (aws) or one instance (aws:g5.xlarge)."""
    from harness.money.ratecard_tables import print_card_details

    _echo_cards(ratecard_files, lambda cards, console: print_card_details(cards, name, console))


def _echo_cards(
    ratecard_files: tuple[Path, ...], show: Callable[[RateCards, Console], None]
) -> None:
    """The rate cards, `ratecard_files` included, printed by `show`."""
    from harness.money.console import render_text
    from harness.money.ratecard import load_ratecards

    cards = load_ratecards(ratecard_files)
    click.echo(render_text(lambda console: show(cards, console)), nl=False)


@ratecards.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
def validate_card(file: Path) -> None:
    """Check a rate card (or market price) file; prints `ok: N instances` or the error."""
    from harness.money import checks
    from harness.money.prices import parse_market_card
    from harness.money.ratecard import is_market_card, parse_card

    data = checks.read_yaml_mapping(file, "rate card")
    if is_market_card(data):
        click.echo(f"ok: {len(parse_market_card(data, file))} prices")
        return
    _, instances = parse_card(data, file)
    click.echo(f"ok: {len(instances)} instances")
