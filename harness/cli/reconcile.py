"""`gpucost reconcile`: a service's bill ÷ the work it served, beside the benchmark floor."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from harness.cli.options import (
    FORMAT,
    VERBOSE,
    gpu_key,
    gpu_option,
    instance_option,
    output_option,
    plan_option,
    ratecard_option,
    scenario_option,
    write_output,
)
from harness.errors import BadInput


@click.command()
@click.option(
    "--bill",
    "bills",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="Cloud bill: AWS CUR (legacy or 2.0) or FOCUS as CSV, CSV.gz, ZIP or Parquet; a file, "
    "a folder or a quoted glob of an export's partitions; or an OpenAI or Anthropic usage or "
    "cost report as their Admin APIs return it (.json) (repeatable).",
)
@click.option(
    "--cost-basis",
    type=click.Choice(["amortized", "unblended", "billed", "list"]),
    default="amortized",
    show_default=True,
    help="Which cost of the bill: amortized (commitments spread over the usage they cover), "
    "unblended, billed (as invoiced) or list (public on-demand prices).",
)
@click.option(
    "--requests",
    "requests_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Request log: .csv, .jsonl/.ndjson (.gz allowed) or .sqlite, one line per inference.",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    help="Keep bill rows with this resource tag (repeatable: all must match).",
)
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month"]),
    default="day",
    show_default=True,
    help="Reporting period, in UTC (weeks start on Monday).",
)
@click.option(
    "--run",
    "run_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Run folder whose measurements give the floor cost per unit.",
)
@instance_option(
    "Rate-card instance for the floor (default: the bill's instance type).", repeatable=False
)
@plan_option(
    "Rate-card plan for the floor (default: the scenario's, else on_demand); or a PLAN.json "
    "from `gpucost plan --format json`, whose bill and cost per unit are shown beside the bill's.",
    repeatable=False,
)
@gpu_option("Take the floor as if the run's GPU were KEY (e.g. A10G).")
@ratecard_option()
@scenario_option("Product scenario YAML: margin at its prices, after its direct costs.")
@click.option("--workload", default=None, help="Only requests of this workload.")
@FORMAT
@output_option(
    "Write to this file; a .html name writes a report page with the trend plot.",
    files_only=True,
)
@click.option(
    "--strict",
    is_flag=True,
    help="Stop at request lines that do not parse instead of skipping them.",
)
@VERBOSE
def reconcile(
    bills: tuple[Path, ...],
    cost_basis: str,
    requests_path: Path,
    tags: tuple[str, ...],
    period: str,
    run_dir: Path | None,
    instance_ref: str | None,
    plan: str | None,
    gpu: str | None,
    ratecard_files: tuple[Path, ...],
    scenario: Path | None,
    workload: str | None,
    fmt: str,
    output: Path | None,
    strict: bool,
    verbose: bool,
) -> None:
    """Actual cost per unit of work from bills and a request log, per period, beside the floor a
    benchmark run shows: implied utilisation and the cost of idle capacity."""
    from harness.cli.reconcile_output import render, render_html, render_terminal
    from harness.reconcile.bills import read_bills
    from harness.reconcile.engine import reconcile as run_reconcile
    from harness.reconcile.periods import check_period
    from harness.reconcile.requests import read_requests
    from harness.reconcile.sources import TagFilter, require_file

    checked_period = check_period(period)
    planned = None
    if plan is not None and plan.lower().endswith(".json"):
        from harness.planning.planned import read_plan

        planned, plan = read_plan(plan), None
    tag_filters = [TagFilter.parse(t) for t in tags]
    floor_gpu = gpu_key(gpu)
    from harness.reconcile.bill_files import expand
    from harness.reconcile.bill_formats import check_cost_basis

    basis = check_cost_basis(cost_basis)
    bill_files = expand(bills)
    require_file(requests_path, "request log")
    if output is not None and not output.parent.is_dir():
        raise BadInput(f"-o {output}: folder {output.parent} does not exist")
    loaded_scenario = None
    if scenario is not None:
        from harness.money.inputs import load_scenario

        loaded_scenario = load_scenario(scenario)
    run = None
    if run_dir is not None:
        from harness.results.runs import load_run

        run = load_run(run_dir)
    elif instance_ref is not None:
        raise BadInput("--instance picks the instance of the floor: give --run too")

    sizes = [p.stat().st_size for p in (*bill_files, requests_path)]
    with _progress(sum(sizes)) as advance:
        bill_totals = read_bills(
            bills, checked_period, tag_filters, progress=advance, cost_basis=basis
        )
        request_totals = read_requests(
            requests_path, checked_period, strict=strict, progress=advance, workload=workload
        )
    # The terminal table carries its notes, once, after its last line; other outputs leave
    # them on stderr so that the file or pipe holds only data.
    on_screen = output is None and fmt == "table"
    notes: list[str] = []

    def note(text: str, kind: str = "Note") -> None:
        if on_screen:
            notes.append(text if kind in ("Note", "") else f"{kind}: {text}")
        else:
            click.echo(f"{kind}: {text}" if kind else text, err=True)

    if request_totals.lines_read == 0:
        note(f"request log {requests_path} has no lines", "Warning")
    if request_totals.bad_lines.total:
        note(request_totals.bad_lines.describe(requests_path), "Warning")
    note(f"cost basis {bill_totals.cost_basis}: {'; '.join(bill_totals.sources)}")
    for text in bill_totals.notes:
        note(text)
    floors = None
    caveats: tuple = ()  # the floor's (harness.render.notes.Note); none without a run
    if run is not None:
        from harness.reconcile.floor import floor_source

        floors, floor_notes = floor_source(
            run,
            bill_totals,
            instance_ref or (loaded_scenario.instance if loaded_scenario else None),
            plan or (loaded_scenario.plan if loaded_scenario else None) or "on_demand",
            floor_gpu,
            ratecard_files,
        )
        for text in floor_notes:
            note(text)
        caveats = floors.caveats
        for caveat in caveats if not on_screen else ():  # the table names them at its top
            note(caveat.text, "Caveat")
    result = run_reconcile(bill_totals, request_totals, checked_period, floors, loaded_scenario)
    for text in result.notes:
        note(text)
    if planned is not None:
        from harness.planning.planned import add_planned, summary_line

        result = dataclasses.replace(result, table=add_planned(result.table, planned))
        note(summary_line(result.table, planned), "")
    if output is not None and output.suffix.lower() in (".html", ".htm"):
        summary = [
            ("bills", "; ".join(f"{f} ({kind})" for f, kind in bill_totals.formats)),
            ("cost basis", f"{bill_totals.cost_basis}: {'; '.join(bill_totals.sources)}"),
            ("tags", ", ".join(tags) or "none"),
            ("bill rows kept", f"{bill_totals.rows_kept:,} of {bill_totals.rows_read:,}"),
            (
                "request log",
                f"{requests_path} ({request_totals.lines_read:,} lines, "
                f"{request_totals.bad_lines.total:,} skipped)",
            ),
            ("floor", f"run {run.run_id}: lowest-cost ok row per unit" if run else "none"),
            ("scenario", loaded_scenario.name if loaded_scenario else "none"),
        ]
        write_output(output, render_html(result, summary))
        click.echo(f"Wrote {output}", err=True)
    elif output is not None:
        write_output(output, render(result.table, fmt, caveats))
        click.echo(f"Wrote {output}", err=True)
    elif on_screen:
        from harness.render.terminal import screen_width

        click.echo(render_terminal(result, notes, screen_width(verbose), verbose, caveats), nl=False)
    else:
        click.echo(render(result.table, fmt, caveats), nl=False)


@contextmanager
def _progress(total_bytes: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    columns = ("reading", BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("reading", total=total_bytes)
        yield lambda n: progress.advance(task, n)
