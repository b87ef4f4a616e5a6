"""`gpucost plan`: the cheapest fleet that serves a traffic under the SLO, its bill and margin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.capacity import build_capacity, project_option, slo_option
from harness.cli.options import (
    gpu_option,
    instance_option,
    output_option,
    plan_option,
    price_option,
    ratecard_option,
    scenario_option,
    write_output,
)
from harness.errors import BadInput

if TYPE_CHECKING:
    from harness.planning.capacity import CapacityEntry
    from harness.planning.demand import Demand


def _trace(path: Path, fmt: str | None):
    from harness.traffic import read_trace  # the trace readers: only when a trace is given

    return read_trace(path, fmt)


def _trace_notes(trace: object) -> list[str]:
    tally = getattr(trace, "tally", None)
    left = sum(getattr(tally, name, 0) or 0 for name in ("unparseable", "refused", "late_refused"))
    return [f"{trace.path}: {left:,} lines left out (unparseable or refused)"] if left else []  # type: ignore[attr-defined]


def load_demand(
    traffic: Path,
    trace_format: str | None,
    length_mix: Path | None,
    input_len: int | None,
    output_len: int | None,
    classes: list,
    step: str,
    horizon: str | None,
    growth: float,
) -> Demand:
    from harness.planning import demand as dm

    step_s = dm.parse_duration_s(step, "--step")
    horizon_s = dm.parse_duration_s(horizon, "--horizon") if horizon else None
    if dm.is_profile(traffic):
        starts, rates = dm.read_profile(traffic)
        if length_mix is not None:
            trace = _trace(length_mix, trace_format)
            mix = dm.mix_from_requests(trace, classes, str(length_mix))
            notes = _trace_notes(trace)
        elif input_len is not None and output_len is not None:
            mix, notes = dm.mix_from_lengths(input_len, output_len, classes), []
        else:
            raise BadInput(
                f"{traffic}: a profile gives rates only; pass --length-mix TRACE or "
                "--input-len N --output-len N for the request sizes"
            )
        demand = dm.demand_from_profile(
            starts, rates, mix, classes, step_s=step_s, horizon_s=horizon_s, growth=growth,
            source=str(traffic),
        )  # fmt: skip
    else:
        if length_mix is not None or input_len is not None or output_len is not None:
            raise BadInput(
                "--length-mix, --input-len and --output-len go with a profile; a trace has "
                "its own lengths"
            )
        trace = _trace(traffic, trace_format)
        demand = dm.demand_from_requests(
            trace, classes, step_s=step_s, horizon_s=horizon_s, growth=growth, source=str(traffic)
        )
        notes = _trace_notes(trace)
    demand.notes.extend(notes)
    return demand


def load_instances(entries: list[CapacityEntry], instance_refs: tuple[str, ...],
                   ratecard_files: tuple[Path, ...]) -> dict:  # fmt: skip
    """The rate-card instance of every capacity row (narrowed by --instance), each checked."""
    from harness.money.inputs import load_ratecards
    from harness.money.pricing.checks import check_currency

    cards = load_ratecards(ratecard_files)
    wanted = {cards.find(ref).key for ref in instance_refs}
    instances = {}
    for entry in entries:
        if wanted and entry.instance not in wanted:
            continue
        if entry.instance not in instances:
            instances[entry.instance] = cards.find(entry.instance, entry.where or "capacity")
    if not instances:
        raise BadInput(
            f"--instance {', '.join(instance_refs)}: not in the capacity table "
            f"(it has: {', '.join(sorted({e.instance for e in entries}))})"
        )
    check_currency(list(instances.values()))
    return instances


@click.command()
@click.option("--traffic", type=click.Path(path_type=Path), required=True,
              help="A trace (any format `run --trace` reads) or an hourly profile CSV "
              "(start,requests_per_s).")  # fmt: skip
@click.option("--trace-format", default=None, help="Name the trace's format (default: detected).")
@click.option("--length-mix", type=click.Path(path_type=Path), default=None,
              help="With a profile: a trace whose request sizes give the mix.")  # fmt: skip
@click.option("--input-len", type=int, default=None, help="With a profile: input tokens each.")
@click.option("--output-len", type=int, default=None, help="With a profile: output tokens each.")
@click.option("--capacity", "capacity_path", type=click.Path(path_type=Path), default=None,
              help="Capacity CSV (from `gpucost capacity` or written by hand).")  # fmt: skip
@click.option("--runs", "runs", multiple=True, type=click.Path(path_type=Path),
              help="Endpoint run folders to build the capacity from (repeatable).")  # fmt: skip
@slo_option("With --runs: judge each level against these targets.")
@project_option()
@gpu_option("With --runs: take the runs' GPU as KEY.")
@instance_option("Plan with this instance only (repeatable; default: every instance of the "
                 "capacity table).")  # fmt: skip
@plan_option()
@ratecard_option()
@click.option("--target-utilization", type=float, default=0.8, show_default=True,
              help="Each instance stays under this share of its SLO capacity.")  # fmt: skip
@click.option("--max-spot-share", type=float, default=1.0, show_default=True,
              help="At most this share of the instances on spot at any step.")  # fmt: skip
@click.option("--min-instances", type=int, default=0, show_default=True,
              help="At least this many instances at every step (availability).")  # fmt: skip
@click.option("--growth", type=float, default=1.0, show_default=True,
              help="Scale the traffic's volume by this factor.")  # fmt: skip
@click.option("--horizon", default=None, help="Plan this long, repeating the traffic (e.g. 30d).")
@click.option("--step", default="1h", show_default=True, help="Scaling granularity.")
@click.option("--time-limit", type=float, default=60.0, show_default=True,
              help="Seconds the solver may take; past it, the best plan found and its gap.")  # fmt: skip
@click.option("--gap", "mip_gap", type=float, default=0.001, show_default=True,
              help="Relative optimality gap at which the solver stops.")  # fmt: skip
@price_option()
@scenario_option("Product scenario YAML: direct costs per call and revenue model.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text",
              show_default=True)  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, help="Buckets and traffic source too.")
@output_option("Write to this file instead of the screen.", files_only=True)
def plan(
    traffic: Path,
    trace_format: str | None,
    length_mix: Path | None,
    input_len: int | None,
    output_len: int | None,
    capacity_path: Path | None,
    runs: tuple[Path, ...],
    slo_text: str | None,
    project_keys: tuple[str, ...],
    gpu: str | None,
    instance_refs: tuple[str, ...],
    plans: tuple[str, ...],
    ratecard_files: tuple[Path, ...],
    target_utilization: float,
    max_spot_share: float,
    min_instances: int,
    growth: float,
    horizon: str | None,
    step: str,
    time_limit: float,
    mip_gap: float,
    price_texts: tuple[str, ...],
    scenario: Path | None,
    fmt: str,
    verbose: bool,
    output: Path | None,
) -> None:
    """The cheapest mix of instance types and purchase plans that serves the traffic under the
    SLO at every step: the fleet, its bill, cost per request and per token, the savings against
    single-type fleets, and the margin at your price."""
    from harness.cli.options import plan_filter
    from harness.money.inputs import load_scenario
    from harness.money.prices import parse_price
    from harness.planning.capacity import read_capacity, size_classes
    from harness.planning.plan import PlanSettings, make_plan
    from harness.planning.render import render

    if (capacity_path is None) == (not runs):
        raise BadInput("give either --capacity FILE or --runs RUN... (one of them)")
    if not 0 < target_utilization <= 1:
        raise BadInput(f"--target-utilization {target_utilization:g}: must be in (0, 1]")
    if not 0 <= max_spot_share <= 1:
        raise BadInput(f"--max-spot-share {max_spot_share:g}: must be in [0, 1]")
    if min_instances < 0:
        raise BadInput(f"--min-instances {min_instances}: must be ≥ 0")
    if not (time_limit > 0) or not (0 <= mip_gap < 1):
        raise BadInput("--time-limit must be > 0 s and --gap in [0, 1)")
    if capacity_path is not None:
        entries = read_capacity(capacity_path)
    else:
        entries, notes = build_capacity(
            runs, slo_text, instance_refs, ratecard_files, gpu, project_keys
        )
        for note in notes:
            click.echo(f"note: {note}", err=True)
    instances = load_instances(entries, instance_refs, ratecard_files)
    entries = [e for e in entries if e.instance in instances]
    classes = size_classes(entries)
    demand = load_demand(
        traffic, trace_format, length_mix, input_len, output_len, classes, step, horizon, growth
    )
    settings = PlanSettings(
        target_utilization=target_utilization,
        max_spot_share=max_spot_share,
        min_instances=min_instances,
        plans=plan_filter(plans),
        time_limit_s=time_limit,
        gap=mip_gap,
    )
    result = make_plan(
        entries,
        instances,
        demand,
        settings,
        prices=tuple(parse_price(t) for t in price_texts),
        scenario=load_scenario(scenario) if scenario is not None else None,
    )
    text = render(result, fmt, verbose)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text)
    click.echo(f"wrote {output}", err=True)
