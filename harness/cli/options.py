"""Options that the price, report, compare and reconcile commands share, and what their values mean.

Only click, the standard library and the plan names are imported here: every command's `--help`
stays fast. Rate cards, prices and GPU tables are imported when a command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from harness.errors import BadInput
from harness.gpus import canonical_gpu, gpu_keys
from harness.money.ratecard import ALL_PLANS, check_plan

if TYPE_CHECKING:
    from harness.money import CandidatePrice, Instance

__all__ = [
    "FORMAT",
    "RATECARD_REPLACES_HELP",
    "RUNS",
    "candidate_prices",
    "gpu_key",
    "gpu_option",
    "instance_option",
    "output_option",
    "plan_filter",
    "plan_option",
    "price_option",
    "ratecard_option",
    "scenario_option",
    "selected_instances",
    "utilization_option",
    "write_output",
]

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

RUNS = click.argument(
    "runs", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="RUN..."
)

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)

_INSTANCE_HELP = "Price on this instance only (repeatable), e.g. aws:g5.xlarge."
_PLAN_HELP = (
    f"{', '.join(ALL_PLANS[:-1])} or {ALL_PLANS[-1]} (repeatable; default: every plan a card has)."
)
_RATECARD_HELP = "Extra rate card YAML (repeatable)."
RATECARD_REPLACES_HELP = "Extra rate card YAML (repeatable); same provider + instance replaces."
_UTILIZATION_TEXT = "Share of paid time doing useful work"


VERBOSE = click.option(
    "-v",
    "--verbose",
    "--wide",
    "verbose",
    is_flag=True,
    help="Every table and note, at full width (default: the answer, fitted to the terminal).",
)


def _one_or_many(flag: str, one: str, many: str, repeatable: bool, **kwargs: Any) -> Decorator:
    """`flag` repeatable into `many` (a tuple, empty when not given), else into `one` (None when
    not given)."""
    if repeatable:
        return click.option(flag, many, multiple=True, **kwargs)
    return click.option(flag, one, default=None, **kwargs)


def instance_option(help_text: str = _INSTANCE_HELP, *, repeatable: bool = True) -> Decorator:
    """`--instance PROVIDER:NAME` into `instance_refs`, or one into `instance_ref`."""
    return _one_or_many(
        "--instance",
        "instance_ref",
        "instance_refs",
        repeatable,
        metavar="PROVIDER:NAME",
        help=help_text,
    )


def plan_option(help_text: str = _PLAN_HELP, *, repeatable: bool = True) -> Decorator:
    """`--plan PLAN` into `plans`, or one into `plan`."""
    return _one_or_many("--plan", "plan", "plans", repeatable, metavar="PLAN", help=help_text)


def gpu_option(help_text: str) -> Decorator:
    """`--gpu KEY` into `gpu`: price (or take the floor) as if the run's GPU were KEY."""
    return click.option("--gpu", default=None, metavar="KEY", help=help_text)


def ratecard_option(help_text: str = _RATECARD_HELP) -> Decorator:
    """`--ratecard FILE` (repeatable) into `ratecard_files`."""
    return click.option(
        "--ratecard",
        "ratecard_files",
        multiple=True,
        type=click.Path(path_type=Path),
        help=help_text,
    )


def utilization_option(*, repeatable: bool = True) -> Decorator:
    """`--utilization U` into `utilizations` (repeatable, default 1.0 when none), or into
    `utilization` (one value, 1.0 by default)."""
    if repeatable:
        return click.option(
            "--utilization",
            "utilizations",
            multiple=True,
            type=float,
            metavar="U",
            help=f"{_UTILIZATION_TEXT}, 0 < U ≤ 1 (repeatable; default 1.0).",
        )
    return click.option(
        "--utilization",
        type=float,
        default=1.0,
        show_default=True,
        help=f"{_UTILIZATION_TEXT} (0 < U ≤ 1).",
    )


def price_option() -> Decorator:
    """`--price WORKLOAD.UNIT=VALUE[/SCALE]` (repeatable) into `price_texts`."""
    return click.option(
        "--price",
        "price_texts",
        multiple=True,
        metavar="WORKLOAD.UNIT=VALUE[/SCALE]",
        help="Candidate price, e.g. text.output_token=0.60/1M (repeatable; default: "
        "market reference prices).",
    )


def scenario_option(help_text: str) -> Decorator:
    """`--scenario FILE` into `scenario` (a product scenario YAML, or None)."""
    return click.option("--scenario", type=click.Path(path_type=Path), default=None, help=help_text)


def output_option(help_text: str, *, required: bool = False, files_only: bool = False) -> Decorator:
    """`-o/--output PATH` into `output`; `files_only` lets click refuse a folder."""
    return click.option(
        "-o",
        "--output",
        required=required,
        type=click.Path(dir_okay=not files_only, path_type=Path),
        default=None,
        help=help_text,
    )


def selected_instances(refs: tuple[str, ...], files: tuple[Path, ...]) -> tuple[Instance, ...]:
    """The rate cards' instances (with `files` added), or only those `--instance` names."""
    from harness.analysis.row_costs import load_instances

    return load_instances(refs, files)


def plan_filter(plans: tuple[str, ...]) -> tuple[str, ...] | None:
    """The `--plan` values, each checked; None (every plan) when there are none."""
    for plan in plans:
        check_plan(plan)
    return plans or None


def candidate_prices(
    texts: tuple[str, ...], ratecard_files: tuple[Path, ...] = ()
) -> tuple[CandidatePrice, ...]:
    """The `--price` values parsed, with the market reference prices of every other unit
    (the shipped ones, the user's, and any `--ratecard` file holding a `prices:` list)."""
    from harness.money import market_prices, parse_price
    from harness.money.prices import with_market

    given = tuple(parse_price(t) for t in texts)
    prices, warnings = with_market(given, tuple(market_prices(ratecard_files)))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    return prices


def gpu_key(key: str | None) -> str | None:
    """The canonical key of `--gpu`, None when not given; BadInput for a GPU not known at all."""
    if key is None:
        return None
    canonical = canonical_gpu(key)
    if canonical is None or canonical not in gpu_keys():
        raise BadInput(f"--gpu {key!r}: unknown GPU (known: {', '.join(gpu_keys())})")
    return canonical


def write_output(path: Path, text: str) -> None:
    """Replace `path` whole, so a failed write never leaves half a file; BadInput when it fails."""
    from harness.results.atomicfile import write_text

    try:
        write_text(path, text)
    except OSError as err:
        raise BadInput(f"-o {path}: cannot write ({err.strerror or err})") from None
