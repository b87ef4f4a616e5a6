"""`gpucost import NAME FILE...`: result files of other benchmark tools into a new run folder
that `price`, `compare` and `report` read. One command per importer in the `gpucost.importers`
entry-point group (built-ins and plugins alike). Thin click over harness.importers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness.cli.options import ratecard_option
from harness.errors import BadInput, GpucostError
from harness.importers import registry


class _ImporterGroup(click.Group):
    """A command per registered importer, found when `gpucost import` runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(registry.available())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in registry.available():
            return None
        try:
            help_text = registry.load(cmd_name).summary
        except GpucostError as err:  # a broken plugin: say so when it is run, list the rest
            help_text = f"(cannot be used: {err})"
        return _command(cmd_name, help_text)


@click.group("import", cls=_ImporterGroup)
def import_group() -> None:
    """Price benchmarks other tools already ran: their result files into a gpucost run."""


def _instance(
    ref: str | None, gpu: str, gpus_used: int, ratecard_files: tuple[Path, ...]
) -> str | None:
    """The `--instance` checked against the rate cards, as `price --instance` reads it."""
    if ref is None:
        return None
    from harness.analysis.row_costs import load_instances

    (instance,) = load_instances((ref,), ratecard_files)
    if instance.gpu != gpu:
        raise BadInput(f"--instance {ref}: its GPU is {instance.gpu}, not --gpu {gpu}")
    if gpus_used > max(instance.gpu_count, 1):
        raise BadInput(
            f"--instance {ref}: it has {instance.gpu_count} GPUs, fewer than --gpus-used {gpus_used}"
        )
    return f"{instance.provider}:{instance.name}"


def _level_line(row: dict[str, Any]) -> str:
    def fmt(value: Any, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    if row.get("concurrency"):
        name = f"concurrency {row['concurrency']}"
    elif row.get("request_rate"):
        name = f"rate {row['request_rate']:g}/s"
    else:
        name = f"unbounded (batch {row['batch_size']})"
    line = (
        f"{name}: {fmt(row.get('window_s'), '.2f')} s, {fmt(row.get('requests'), '.0f')} requests, "
        f"{fmt(row.get('output_tokens_per_s'), '.1f')} output tok/s, "
        f"TTFT p50 {fmt(row.get('ttft_s_p50'), '.3f')} s, errors {fmt(row.get('error_count'), 'd')}"
    )
    if row["status"] != "ok":
        line += f" [{row['status']}: {row.get('error')}]"
    return line


def _command(tool: str, help_text: str) -> click.Command:
    @click.command(tool, help=help_text)
    @click.argument(
        "files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE..."
    )
    @click.option(
        "--gpu",
        required=True,
        metavar="KEY",
        help="GPU the benchmarked server ran on, e.g. H100-SXM-80GB.",
    )
    @click.option(
        "--gpus-used",
        type=int,
        required=True,
        metavar="N",
        help="GPUs the server used (priced per GPU-second).",
    )
    @click.option(
        "--instance",
        default=None,
        metavar="PROVIDER:NAME",
        help="Instance it ran on, e.g. aws:p5.48xlarge (recorded in run.json).",
    )
    @click.option(
        "--workload",
        default="text",
        show_default=True,
        type=click.Choice(["text"]),
        help="What was served.",
    )
    @click.option(
        "--out",
        "--results-dir",
        "out",
        type=click.Path(path_type=Path),
        default=Path("results"),
        show_default=True,
        help="Parent folder of the new run folder.",
    )
    @ratecard_option("Extra rate card YAML (repeatable) where --instance is found.")
    def command(
        files: tuple[Path, ...],
        gpu: str,
        gpus_used: int,
        instance: str | None,
        workload: str,
        out: Path,
        ratecard_files: tuple[Path, ...],
    ) -> None:
        from harness.cli.options import gpu_key
        from harness.importers.base import check_gpus_used
        from harness.importers.run import ImportRequest, import_run

        key = gpu_key(gpu)
        assert key is not None
        check_gpus_used(gpus_used)
        request = ImportRequest(
            tool=tool, files=files, gpu=key, gpus_used=gpus_used,
            instance=_instance(instance, key, gpus_used, ratecard_files), workload=workload,
        )  # fmt: skip
        store = import_run(request, out, ["gpucost", *sys.argv[1:]])
        for row in store.measurements:
            click.echo(_level_line(row), err=True)
        click.echo(str(store.path))

    return command
