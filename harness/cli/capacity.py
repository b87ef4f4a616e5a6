"""`gpucost capacity`: the requests/s each instance type sustains under an SLO, as a CSV table."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.options import (
    RUNS,
    gpu_option,
    instance_option,
    output_option,
    ratecard_option,
    write_output,
)


def slo_option(help_text: str) -> click.Option:
    return click.option("--slo", "slo_text", default=None, metavar="SPEC", help=help_text)


def project_option() -> click.Option:
    return click.option(
        "--project",
        "project_keys",
        multiple=True,
        metavar="KEY",
        help="Add instances with GPU KEY (not measured) by the roofline projection of the "
        "measured levels; marked projected (repeatable).",
    )


def build_capacity(
    runs: tuple[Path, ...],
    slo_text: str | None,
    instance_refs: tuple[str, ...],
    ratecard_files: tuple[Path, ...],
    gpu: str | None,
    project_keys: tuple[str, ...],
) -> tuple[list, list[str]]:
    """Capacity entries from run folders (shared by `capacity` and `plan --runs`)."""
    from harness.cli.options import gpu_key, selected_instances
    from harness.planning.measured import capacity_from_runs
    from harness.results.runs import load_runs
    from harness.slo import parse_slo

    slo = parse_slo(slo_text) if slo_text is not None else None
    return capacity_from_runs(
        load_runs(runs),
        selected_instances(instance_refs, ratecard_files),
        slo=slo,
        gpu=gpu_key(gpu),
        project_keys=project_keys,
    )


@click.command()
@RUNS
@slo_option(
    "Judge each level against these targets, e.g. ttft_p99=0.5,tpot_p99=0.05 (default: the "
    "level --find-max-load marked)."
)
@project_option()
@instance_option("Write rows for this instance only (repeatable; default: every instance "
                 "with the run's GPU).")  # fmt: skip
@ratecard_option()
@gpu_option("Take the run's GPU as KEY (e.g. A10G).")
@output_option("Capacity CSV to write (default: the screen).", files_only=True)
def capacity(
    runs: tuple[Path, ...],
    slo_text: str | None,
    project_keys: tuple[str, ...],
    instance_refs: tuple[str, ...],
    ratecard_files: tuple[Path, ...],
    gpu: str | None,
    output: Path | None,
) -> None:
    """Per instance type and request size, the requests/s that meet the SLO, from endpoint
    RUN folders; the table `gpucost plan --capacity` reads."""
    from harness.planning.capacity import capacity_csv

    entries, notes = build_capacity(
        runs, slo_text, instance_refs, ratecard_files, gpu, project_keys
    )
    for note in notes:
        click.echo(f"note: {note}", err=True)
    text = capacity_csv(entries)
    if output is None:
        click.echo(text, nl=False)
        return
    write_output(output, text)
    click.echo(f"wrote {output}: {len(entries)} rows", err=True)
