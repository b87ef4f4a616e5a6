"""`gpucost report`, `gpucost compare` and `gpucost calibrate`: thin click commands.

Heavy imports (pandas, matplotlib, torch for calibrate only) happen inside the commands.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.options import (
    FORMAT,
    RATECARD_REPLACES_HELP,
    RUNS,
    VERBOSE,
    candidate_prices,
    gpu_key,
    gpu_option,
    instance_option,
    output_option,
    plan_filter,
    plan_option,
    price_option,
    ratecard_option,
    selected_instances,
    utilization_option,
)
from harness.errors import BadInput, RunFolderError

if TYPE_CHECKING:
    from harness.analysis.compare import Comparison
    from harness.money import CandidatePrice
    from harness.slo import Slo

__all__ = ["calibrate", "compare", "report"]


@click.command()
@RUNS
@output_option(
    "Report file: .html (one self-contained page) or .md (PNGs in <name>_files/). "
    "Default: report.html inside the first RUN folder."
)
@price_option()
@instance_option()
@ratecard_option(RATECARD_REPLACES_HELP)
@plan_option()
@gpu_option("Price as if the runs' GPU were KEY.")
@utilization_option(repeatable=False)
def report(
    runs: tuple[Path, ...],
    output: Path | None,
    price_texts: tuple[str, ...],
    instance_refs: tuple[str, ...],
    ratecard_files: tuple[Path, ...],
    plans: tuple[str, ...],
    gpu: str | None,
    utilization: float,
) -> None:
    """Tables and plots of RUN folders: measurements, cost per unit, margins, timeline."""
    from harness.money.context import check_utilizations
    from harness.report.files import check_output, write_document
    from harness.report.sections import ReportOptions, build_report
    from harness.results.runs import load_runs

    if output is None:
        # click drops `required` next to a default, so the default is explicit and said aloud.
        output = default_report_path(runs[0])
    check_output(output)
    check_utilizations((utilization,))
    options = ReportOptions(
        instances=selected_instances(instance_refs, ratecard_files),
        prices=candidate_prices(price_texts, ratecard_files),
        gpu_key=gpu_key(gpu),
        plans=plan_filter(plans),
        utilization=utilization,
    )
    records = load_runs(runs)
    written = write_document(build_report(records, options), output)
    click.echo(
        f"wrote {written[-1]}" + (f" and {len(written) - 1} plots" if len(written) > 1 else "")
    )


def default_report_path(run: Path) -> Path:
    """`RUN/report.html`; BadInput when RUN is not a folder (nothing is written then)."""
    if not run.is_dir():
        raise RunFolderError(f"{run}: no such run folder (and no -o FILE given)")
    return run / "report.html"


@click.command()
@RUNS
@instance_option()
@ratecard_option(RATECARD_REPLACES_HELP)
@plan_option()
@utilization_option()
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
    "--slo",
    "slo_text",
    default=None,
    metavar="SPEC",
    help="Latency targets, e.g. ttft_p99=0.5,tpot_p99=0.05 (seconds): print per workload the "
    "cheapest instance, plan and load level that meets them, its cost and margin.",
)
@price_option()
@FORMAT
@output_option("Write a report page (.html or .md) instead of printing.")
@VERBOSE
def compare(
    runs: tuple[Path, ...],
    instance_refs: tuple[str, ...],
    ratecard_files: tuple[Path, ...],
    plans: tuple[str, ...],
    utilizations: tuple[float, ...],
    units: tuple[str, ...],
    project_gpus: tuple[str, ...],
    strict: bool,
    slo_text: str | None,
    price_texts: tuple[str, ...],
    fmt: str,
    output: Path | None,
    verbose: bool,
) -> None:
    """RUN folders from different machines side by side: cost per unit on every matched
    instance and plan, the cheapest marked, and each choice's ratio to it; the
    cost–interactivity frontier; with --slo, the cheapest choice that meets the SLO."""
    from harness.analysis.compare import CompareOptions, compare_runs
    from harness.analysis.records import to_records
    from harness.money.caveats import caveat_kinds_text, caveat_records, row_caveats
    from harness.report.compare_text import format_table
    from harness.results.runs import load_runs

    if output is not None:
        from harness.report.files import check_output

        check_output(output)
    from harness.money.context import check_utilizations

    slo = None
    if slo_text is not None:
        from harness.slo import parse_slo

        slo = parse_slo(slo_text)
    elif price_texts:
        raise BadInput("--price: compare uses candidate prices only with --slo (the margin there)")

    options = CompareOptions(
        plans=plan_filter(plans),
        utilizations=check_utilizations(utilizations or (1.0,)),
        instance_refs=instance_refs,
        ratecard_files=ratecard_files,
        project_gpus=project_gpus,
        units=units,
        strict=strict,
        across_levels=slo is not None,
    )
    records = load_runs(runs)
    comparison = compare_runs(records, selected_instances(instance_refs, ratecard_files), options)
    # Under an SLO the levels of a sweep are compared with each other, so the levels that are
    # "kept apart" as different settings are not news.
    for line in (*(comparison.kept_apart if slo is None else ()), *comparison.notes):
        click.echo(str(line), err=True)
    if slo is not None and output is None:
        _print_slo(comparison, slo, candidate_prices(price_texts, ratecard_files), fmt)
        return
    if output is not None:
        from harness.report.comparison import comparison_document
        from harness.report.files import write_document

        written = write_document(comparison_document(comparison, records), output)
        click.echo(f"wrote {written[-1]}")
        if slo is not None:
            _print_slo(comparison, slo, candidate_prices(price_texts, ratecard_files), "table")
    elif fmt == "csv":
        kinds = [caveat_kinds_text(r) for r in row_caveats(comparison.caveats, comparison.rows)]
        click.echo(comparison.rows.assign(caveats=kinds).to_csv(index=False), nl=False)
    elif fmt == "json":
        rows = to_records(comparison)
        for record, row in zip(rows, row_caveats(comparison.caveats, comparison.rows), strict=True):
            record["caveats"] = caveat_records(row)
        click.echo(json.dumps(rows, indent=2))
    elif not verbose:
        from harness.render.terminal import terminal_width
        from harness.report.compare_text import format_answer

        click.echo(format_answer(comparison, terminal_width()), nl=False)
    else:
        from harness.report.compare_text import format_frontier

        click.echo(format_table(comparison))
        frontier = format_frontier(comparison.frontier)
        if frontier:
            click.echo("\n" + frontier)


def _print_slo(
    comparison: Comparison, slo: Slo, prices: tuple[CandidatePrice, ...], fmt: str
) -> None:
    """`compare --slo`: the answers, then the frontier's Pareto points (json: both; csv: the
    answers, one row per candidate price)."""
    from harness.analysis.records import pareto_records
    from harness.analysis.slo_choice import answer_records, answer_rows, slo_answers
    from harness.report.compare_text import format_answers, format_frontier

    levels = comparison.levels
    answers = slo_answers(levels, slo, prices) if levels is not None else []
    if fmt == "json":
        frontier = pareto_records(comparison.frontier) if comparison.frontier is not None else []
        document = {"slo": slo.text, "answers": answer_records(answers), "frontier": frontier,
                    "caveats": [n.as_dict() for n in comparison.caveats]}  # fmt: skip
        click.echo(json.dumps(document, indent=2))
    elif fmt == "csv":
        import pandas as pd

        click.echo(pd.DataFrame(answer_rows(answers)).to_csv(index=False), nl=False)
    else:
        click.echo(format_answers(answers, slo))
        frontier = format_frontier(comparison.frontier) if comparison.frontier is not None else ""
        if frontier:
            click.echo("\n" + frontier)


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
    from harness.measure import calibrate as cal

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
