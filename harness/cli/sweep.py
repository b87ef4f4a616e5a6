"""`gpucost sweep`: one sweep over many instance types through SkyPilot (an optional extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.cli.options import ratecard_option
from harness.errors import BadInput, GpucostError

PLAN_DIR = click.argument("plan_dir", type=click.Path(path_type=Path))


@click.group()
def sweep() -> None:
    """Run the same benchmark on many instance types (SkyPilot), then collect and compare."""


@sweep.command("plan", context_settings={"ignore_unknown_options": True})
@click.option("--instances", required=True,
              help="Rate-card instances, comma-separated: aws:g6e.xlarge,lambda:gpu_1x_h100_pcie")
@click.option("--spot", is_flag=True, help="Spot instances (priced at the card's spot price).")
@click.option("--managed", is_flag=True, help="SkyPilot managed jobs (spot recovery); needs --bucket.")
@click.option("--bucket", default=None, help="Bucket the runs write to, e.g. s3://my-bucket/sweep1.")
@click.option("--expected-hours", type=float, default=1.0, show_default=True,
              help="Expected hours per instance (setup + run), for the cost estimate.")
@click.option("--install", default="checkout", show_default=True,
              help="How each task installs gpucost: checkout (a wheel of this checkout, built "
                   "now and uploaded with the task) or any pip requirement.")
@click.option("--setup", "extra_setup", multiple=True,
              help="Extra setup command, e.g. 'pip install vllm' (repeatable).")
@ratecard_option()
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Plan folder to write (tasks and sweep.json).")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def plan_cmd(instances: str, spot: bool, managed: bool, bucket: str | None,
             expected_hours: float, install: str, extra_setup: tuple[str, ...],
             ratecard_files: tuple[Path, ...], output: Path, run_args: tuple[str, ...]) -> None:
    """Write one SkyPilot task per instance running `gpucost run RUN_ARGS` (after `--`).

    `{gpus}` in RUN_ARGS becomes the instance's GPU count, e.g.
    --server-cmd "vllm serve M --tensor-parallel-size {gpus}".
    """
    from harness.sweep.launch import estimate_lines
    from harness.sweep.plan import make_plan

    refs = [r.strip() for r in instances.split(",") if r.strip()]
    plan = make_plan(refs, list(run_args), output, spot=spot, managed=managed, bucket=bucket,
                     expected_hours=expected_hours, install=install, extra_setup=extra_setup,
                     ratecard_files=ratecard_files, parse_run_args=_parse_run_args)
    for entry in plan.entries:
        click.echo(f"wrote {output / entry.task_file}  ({entry.instance})")
    for line in estimate_lines(plan):
        click.echo(line)


def _parse_run_args(run_args: list[str]) -> None:
    """The options exactly as `gpucost run` checks them before it makes a folder (its own
    checks, harness/cli/run.py), for a GPU cluster rather than this machine; `--help` asks for
    no run. BadInput in one line otherwise."""
    from harness.cli.endpoint import is_endpoint_run
    from harness.cli.run import check_run_options, run

    try:
        context = run.make_context("run", list(run_args))
    except click.exceptions.Exit:
        raise BadInput("run options: --help asks for no run; see gpucost run --help") from None
    except click.ClickException as err:
        raise BadInput(f"run options: {err.format_message()}") from None
    kw = dict(context.params)
    try:
        with context:  # the endpoint checks ask the context which options were given
            if is_endpoint_run(kw):
                _check_endpoint_options(kw)
                return
        check_run_options(kw, elsewhere=True)  # on the cluster's GPU, not this machine's
    except BadInput as err:
        raise BadInput(f"run options: {err}") from None


@sweep.command("launch")
@PLAN_DIR
@click.option("--yes", is_flag=True, help="Launch (and pay for) the instances.")
@click.option("--parallel", type=click.IntRange(min=1), default=8, show_default=True)
def launch_cmd(plan_dir: Path, yes: bool, parallel: int) -> None:
    """Launch every task of PLAN_DIR; prints the estimated cost first and needs --yes."""
    from harness.sweep import sky_api
    from harness.sweep.launch import estimate_lines, launch_sweep
    from harness.sweep.plan import load_plan

    plan = load_plan(plan_dir)
    for line in estimate_lines(plan):
        click.echo(line)
    if not yes:
        raise BadInput("nothing launched: add --yes to launch these instances")
    api = sky_api.make_api()

    def progress(name: str, status: str, detail: str) -> None:
        click.echo(f"{name:<44} {status:<14} {detail}")

    state = launch_sweep(plan, plan_dir, api, parallel=parallel, progress=progress)
    failed = [n for n, r in state.entries.items() if r.get("status") == "FAILED_LAUNCH"]
    click.echo(f"{len(plan.entries) - len(failed)} launched, {len(failed)} failed")


@sweep.command("status")
@PLAN_DIR
def status_cmd(plan_dir: Path) -> None:
    """Each instance: how its launch went and its job's state now."""
    from harness.sweep import sky_api
    from harness.sweep.plan import load_plan
    from harness.sweep.status import sweep_status

    plan = load_plan(plan_dir)
    for row in sweep_status(plan, plan_dir, sky_api.make_api()):
        tail = f"  {row.error}" if row.error else ""
        click.echo(f"{row.instance:<40} {row.launch:<14} {row.job or '-':<12}{tail}")


@sweep.command("collect")
@PLAN_DIR
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder the run folders go into (one sub-folder per instance).")
@click.option("--from", "bucket_copy", type=click.Path(path_type=Path), default=None,
              help="A local copy of the plan's bucket (plans with --bucket).")
@click.option("--compare/--no-compare", default=True, help="Run gpucost compare on what came back.")
def collect_cmd(plan_dir: Path, output: Path, bucket_copy: Path | None, compare: bool) -> None:
    """Bring back every finished run folder, keeping what finished when others failed."""
    from harness.sweep.collect import collect_sweep
    from harness.sweep.plan import load_plan

    plan = load_plan(plan_dir)
    api = None
    if bucket_copy is None and not plan.bucket:
        from harness.sweep import sky_api

        api = sky_api.make_api()
    results = collect_sweep(plan, plan_dir, output, api, bucket_copy)
    runs = [run for r in results for run in r.run_dirs]
    for r in results:
        click.echo(f"{r.name:<44} {len(r.run_dirs)} run(s)" + (f"  {r.problem}" if r.problem else ""))
    if not runs:
        raise GpucostError(f"no run folder came back into {output}")
    if compare:
        from harness.cli.report import compare as compare_cmd

        ctx = click.get_current_context()
        ctx.invoke(compare_cmd, runs=tuple(runs))


@sweep.command("down")
@PLAN_DIR
def down_cmd(plan_dir: Path) -> None:
    """Tear down every cluster and cancel every managed job of PLAN_DIR."""
    from harness.sweep import sky_api
    from harness.sweep.down import down_sweep
    from harness.sweep.plan import load_plan

    outcome = down_sweep(load_plan(plan_dir), plan_dir, sky_api.make_api())
    for name, error in outcome.items():
        click.echo(f"{name:<44} {'down' if error is None else error}")
    if any(outcome.values()):
        raise GpucostError("some instances were not torn down: see above, or use sky down")


def _check_endpoint_options(kw: dict[str, Any]) -> None:
    """What an endpoint run checks before it starts, with the endpoint run's own functions."""
    from harness.cli import endpoint
    from harness.endpoint.config import parse_concurrency, parse_request_rate
    from harness.slo import parse_slo

    endpoint._check(kw)  # the endpoint run's own option checks, reused as they are
    if kw.get("slo") is not None:
        parse_slo(kw["slo"])
    if kw.get("concurrency") is not None:
        parse_concurrency(kw["concurrency"])
    if kw.get("request_rate") is not None:
        parse_request_rate(kw["request_rate"])
