"""`gpucost report`, `gpucost compare` and `gpucost calibrate`: thin click commands.

Heavy imports (pandas, matplotlib, torch for calibrate only) happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.errors import BadInput

if TYPE_CHECKING:
    from harness.money import CandidatePrice, Instance

__all__ = ["calibrate", "compare", "report"]

RUNS = click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
INSTANCES = click.option(
    "--instance",
    "instance_refs",
    multiple=True,
    metavar="PROVIDER:NAME",
    help="Price on this instance only (repeatable), e.g. aws:g5.xlarge.",
)
RATECARDS = click.option(
    "--ratecard",
    "ratecard_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Extra rate card YAML (repeatable); same provider + instance replaces.",
)
PLANS = click.option(
    "--plan",
    "plans",
    multiple=True,
    metavar="PLAN",
    help="on_demand, spot, reserved_1y, reserved_3y or owned (repeatable; default: all).",
)


def _instances(refs: tuple[str, ...], files: tuple[Path, ...]) -> tuple[Instance, ...]:
    from harness.compare import load_instances

    return load_instances(refs, files)


def _plans(plans: tuple[str, ...]) -> tuple[str, ...] | None:
    from harness.money import ALL_PLANS

    for plan in plans:
        if plan not in ALL_PLANS:
            raise BadInput(f"--plan {plan!r}: unknown plan (plans: {', '.join(ALL_PLANS)})")
    return plans or None


def _prices(texts: tuple[str, ...]) -> tuple[CandidatePrice, ...]:
    from harness.money import market_prices, parse_price

    return tuple(parse_price(t) for t in texts) if texts else tuple(market_prices())


def _gpu_key(key: str | None) -> str | None:
    from harness.money import GPU_KEYS, canonical_gpu

    if key is None:
        return None
    canonical = canonical_gpu(key)
    if canonical is None or canonical not in GPU_KEYS:
        raise BadInput(f"--gpu {key!r}: unknown GPU (known: {', '.join(GPU_KEYS)})")
    return canonical


@click.command()
@RUNS
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Report file: .html (one self-contained page) or .md (PNGs in <name>_files/).",
)
@click.option(
    "--price",
    "price_texts",
    multiple=True,
    metavar="WORKLOAD.UNIT=VALUE[/SCALE]",
    help="Candidate price, e.g. text.output_token=0.60/1M (repeatable; default: market prices).",
)
@INSTANCES
@RATECARDS
@PLANS
@click.option("--gpu", default=None, metavar="KEY", help="Price as if the runs' GPU were KEY.")
@click.option(
    "--utilization",
    type=float,
    default=1.0,
    show_default=True,
    help="Share of paid time doing useful work (0 < U ≤ 1).",
)
def report(
    runs: tuple[Path, ...],
    output: Path,
    price_texts: tuple[str, ...],
    instance_refs: tuple[str, ...],
    ratecard_files: tuple[Path, ...],
    plans: tuple[str, ...],
    gpu: str | None,
    utilization: float,
) -> None:
    """Tables and plots of RUN folders: measurements, cost per unit, margins, timeline."""
    from harness.money.cost import check_utilizations
    from harness.report.files import check_output, write_document
    from harness.report.sections import ReportOptions, build_report
    from harness.runs import load_runs

    check_output(output)
    check_utilizations((utilization,))
    options = ReportOptions(
        instances=_instances(instance_refs, ratecard_files),
        prices=_prices(price_texts),
        gpu_key=_gpu_key(gpu),
        plans=_plans(plans),
        utilization=utilization,
    )
    records = load_runs(runs)
    written = write_document(build_report(records, options), output)
    click.echo(
        f"wrote {written[-1]}" + (f" and {len(written) - 1} plots" if len(written) > 1 else "")
    )


@click.command()
@RUNS
@INSTANCES
@RATECARDS
@PLANS
@click.option(
    "--utilization",
    "utilizations",
    multiple=True,
    type=float,
    metavar="U",
    help="Share of paid time doing useful work, 0 < U ≤ 1 (repeatable; default 1.0).",
)
@click.option(
    "--unit",
    "units",
    multiple=True,
    metavar="UNIT",
    help="Only this unit (repeatable), e.g. output_token. Default: every unit.",
)
@click.option(
    "--project",
    "project_gpus",
    multiple=True,
    metavar="GPU_KEY",
    help="Also estimate the runs on this GPU by roofline scaling (repeatable; marked projected).",
)
@click.option("--strict", is_flag=True, help="Refuse runs that did different work.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write a report page (.html or .md) instead of printing.",
)
def compare(
    runs: tuple[Path, ...],
    instance_refs: tuple[str, ...],
    ratecard_files: tuple[Path, ...],
    plans: tuple[str, ...],
    utilizations: tuple[float, ...],
    units: tuple[str, ...],
    project_gpus: tuple[str, ...],
    strict: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """RUN folders from different machines side by side: cost per unit on every matched
    instance and plan, the cheapest marked, and each choice's ratio to it."""
    from harness.compare import CompareOptions, compare_runs, format_table, to_records
    from harness.runs import load_runs

    if output is not None:
        from harness.report.files import check_output

        check_output(output)
    from harness.money.cost import check_utilizations

    options = CompareOptions(
        plans=_plans(plans),
        utilizations=check_utilizations(utilizations or (1.0,)),
        instance_refs=instance_refs,
        ratecard_files=ratecard_files,
        project_gpus=project_gpus,
        units=units,
        strict=strict,
    )
    records = load_runs(runs)
    comparison = compare_runs(records, _instances(instance_refs, ratecard_files), options)
    for line in (*comparison.kept_apart, *comparison.notes):
        click.echo(line, err=True)
    if output is not None:
        from harness.report.comparison import comparison_document
        from harness.report.files import write_document

        written = write_document(comparison_document(comparison, records), output)
        click.echo(f"wrote {written[-1]}")
    elif fmt == "csv":
        click.echo(comparison.rows.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(json.dumps(to_records(comparison), indent=2))
    else:
        click.echo(format_table(comparison))


@click.command()
@click.option("--device", default="cuda:0", show_default=True, help="The CUDA device to measure.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="JSON file for the ceilings (default: results/calibration-<gpu>.json); a run folder "
    "here stores them in its run.json instead.",
)
@click.option(
    "--run",
    "run_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Also store the ceilings in this run folder's run.json (`calibration`).",
)
@click.option(
    "--size",
    type=click.IntRange(min=256),
    default=8192,
    show_default=True,
    help="Matrix size n of the n×n×n bf16 product.",
)
@click.option("--repeats", type=click.IntRange(min=1), default=10, show_default=True)
def calibrate(device: str, out: Path | None, run_dir: Path | None, size: int, repeats: int) -> None:
    """Measure this GPU's achievable ceilings: a large bf16 matmul and a device-to-device copy."""
    from harness import calibrate as cal

    if out is not None and (out / "run.json").is_file():
        run_dir, out = run_dir or out, None
    if run_dir is not None:
        cal.read_run_meta(run_dir)  # a wrong folder fails before the GPU is busy
    ceilings = cal.measure_ceilings(device, matmul_size=size, repeats=repeats)
    click.echo(
        f"{ceilings.gpu_name}: bf16 matmul {ceilings.matmul_tflops:.0f} TFLOP/s "
        f"({size}³), copy {ceilings.copy_bytes_per_s / 1e12:.2f} TB/s (read + write)"
    )
    if run_dir is not None:
        cal.attach_to_run(run_dir, ceilings)
        click.echo(f"stored in {run_dir / 'run.json'}")
    if out is not None or run_dir is None:
        path = out or cal.default_output(ceilings)
        cal.write_ceilings(ceilings, path)
        click.echo(f"wrote {path}")
