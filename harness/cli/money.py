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
    VERBOSE,
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
from harness.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

    from harness.money.ratecard import RateCards
    from harness.render.terminal import Screen

__all__ = ["price", "print_market_summary", "ratecards"]


def print_market_summary(run_dir: Path, width: int | None = None) -> None:
    """Cost and margin at market prices for a finished run; one line instead when unpriceable.
    Fitted to `width` columns (default: the terminal's)."""
    from harness.cli.price_output import print_market_summary as summary
    from harness.render.terminal import render_text, terminal_width

    text = render_text(lambda screen: summary(run_dir, screen), width or terminal_width())
    click.echo(text, nl=False)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values, with None where a value is missing or unbounded (JSON has
    no infinity: an infinite cost on goodput, where no request met the SLO, is null)."""
    import numpy as np

    bounded = frame.notna()
    numbers = frame.select_dtypes("number").columns
    bounded[numbers] = np.isfinite(frame[numbers])
    clean = frame.astype(object).where(bounded, None)
    return [
        {key: value.item() if hasattr(value, "item") else value for key, value in row.items()}
        for row in clean.to_dict("records")
    ]


def _render(result: Any, fmt: str, top: int, verbose: bool = False) -> str:
    if fmt in ("csv", "json"):
        from harness.money.caveats import caveat_kinds_text, caveat_records, row_caveats

        frame = result.scenario_rows if result.scenario_rows is not None else result.costs
        per_row = row_caveats(result.all_notes(), frame)
        if fmt == "csv":
            return frame.assign(caveats=[caveat_kinds_text(r) for r in per_row]).to_csv(index=False)
        records = _records(frame)
        for record, row in zip(records, per_row, strict=True):
            record["caveats"] = caveat_records(row)
        return json.dumps(records, indent=2) + "\n"
    from harness.cli.price_output import render_price_result
    from harness.render.terminal import render_text, screen_width

    return render_text(
        lambda screen: render_price_result(result, screen, top, verbose), screen_width(verbose)
    )


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
@click.option(
    "--other-hardware",
    is_flag=True,
    help="With --gpu: price timings measured on other hardware on that GPU's instances anyway "
    "(they do not transfer; `gpucost compare --project` estimates instead).",
)
@VERBOSE
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
    other_hardware: bool,
    verbose: bool,
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
        other_hardware=other_hardware,
        target_margins=margins,
        with_sensitivity=fmt == "table" and verbose,
    )
    text = _render(price_runs(request), fmt, top, verbose)
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
@VERBOSE
def list_cards(ratecard_files: tuple[Path, ...], verbose: bool) -> None:
    """Every instance of the shipped and user cards, with its prices per hour."""
    from harness.cli.ratecard_output import print_card_list

    _echo_cards(ratecard_files, lambda cards, screen: print_card_list(cards.instances, screen),
                verbose)  # fmt: skip


@ratecards.command("show")
@click.argument("name")
@ratecard_option()
@VERBOSE
def show_card(name: str, ratecard_files: tuple[Path, ...], verbose: bool) -> None:
    """Details of a provider (aws) or one instance (aws:g5.xlarge)."""
    from harness.cli.ratecard_output import print_card_details

    _echo_cards(ratecard_files, lambda cards, screen: print_card_details(cards, name, screen),
                verbose)  # fmt: skip


def _echo_cards(
    ratecard_files: tuple[Path, ...], show: Callable[[RateCards, Screen], None], wide: bool
) -> None:
    """The rate cards, `ratecard_files` included, printed by `show`."""
    from harness.money.inputs import load_ratecards
    from harness.render.terminal import render_text, screen_width

    cards = load_ratecards(ratecard_files)
    click.echo(render_text(lambda screen: show(cards, screen), screen_width(wide)), nl=False)


@ratecards.command("schema")
@click.option("--scenario", "kind", flag_value="scenario", help="The scenario file's schema.")
@click.option("--ratecard", "kind", flag_value="ratecard", default=True,
              help="The rate card file's schema (default).")  # fmt: skip
def card_schema(kind: str) -> None:
    """Print the JSON Schema of a rate card (or scenario) file, for an editor to check YAML."""

    from harness.money.file_schemas import json_schema

    click.echo(json.dumps(json_schema(kind), indent=2))


@ratecards.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
def validate_card(file: Path) -> None:
    """Check a rate card (or market price) file; prints `ok: N instances` or the error."""
    from harness.money.inputs import card_from, market_from
    from harness.money.ratecard import is_market_card
    from harness.money.yamlfile import read_yaml

    found = read_yaml(file, "rate card")
    if is_market_card(found.data):
        click.echo(f"ok: {len(market_from(found))} prices")
        return
    _, instances = card_from(found)
    click.echo(f"ok: {len(instances)} instances")


@ratecards.group("import")
def import_cards() -> None:
    """Write a rate card from another tool's price catalog."""


@import_cards.command("skypilot")
@click.option(
    "--catalog-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder with <cloud>/vms.csv (default: SkyPilot's own cache, ~/.sky/catalogs/v8).",
)
@click.option("--cloud", "clouds", default=None, help="Clouds to import, e.g. aws,gcp (default: all found).")
@click.option("--region", default=None, help="Price every instance in this region (default: its cheapest).")
@click.option("--include-cpu", is_flag=True, help="Import CPU-only instance types too.")
@click.option("--as-of", default=None, help="Date of the catalog (default: its file's date).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="Card file to write (one cloud), or a folder that gets <cloud>.yaml per cloud.",
)
def import_skypilot(
    catalog_dir: Path | None,
    clouds: str | None,
    region: str | None,
    include_cpu: bool,
    as_of: str | None,
    output: Path,
) -> None:
    """A validated rate card from SkyPilot's catalog of instance prices."""
    from harness.money import catalog_import as ci

    folder = catalog_dir or ci.default_catalog_dir()
    found = ci.available_clouds(folder)
    if not found:
        raise BadInput(f"--catalog-dir {folder}: no <cloud>/vms.csv there")
    wanted = list(dict.fromkeys(
        c.strip().lower() for c in clouds.split(",") if c.strip())) if clouds else list(found)
    for cloud in wanted:
        if cloud not in found:
            raise BadInput(
                f"--cloud {cloud!r}: no {cloud}/vms.csv in {folder} (has: {', '.join(found)})"
            )
    many = len(wanted) > 1 or output.is_dir()
    if many and output.suffix.lower() in (".yaml", ".yml") and not output.is_dir():
        raise BadInput(
            f"-o {output}: {len(wanted)} clouds ({', '.join(wanted)}) make one card each; give "
            "a folder, or one --cloud"
        )
    if not many and output.exists() and not output.is_file():
        raise BadInput(f"-o {output}: not a file")
    # Every card is made and checked before any is written: a failure leaves no partial set.
    results = [
        ci.import_cloud(folder, cloud, region=region, include_cpu=include_cpu, as_of=as_of,
                        folder=found[cloud])
        for cloud in wanted
    ]  # fmt: skip
    if many:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise BadInput(f"-o {output}: cannot make the folder ({err.strerror or err})") from None
    for result in results:
        target = output / f"{result.cloud}.yaml" if many else output
        write_output(target, ci.render_card(result.card))
        note = f", {result.cpu_only_left_out} CPU-only left out" if result.cpu_only_left_out else ""
        click.echo(
            f"wrote {target}: {len(result.card['instances'])} {result.cloud} instances{note}",
            err=True,
        )
        for line in result.skipped:
            click.echo(f"  not imported: {line}", err=True)
