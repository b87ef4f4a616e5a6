"""`gpucost run`: measure workloads over batch sizes into a new run folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness.errors import BadInput

SETTING_OPTIONS: tuple[tuple[str, type, str], ...] = (
    ("input-len", int, "text: prompt tokens per request"),
    ("output-len", int, "text, asr: generated tokens per request (EOS ignored)"),
    ("steps", int, "image: denoising steps"),
    ("height", int, "image: pixels"),
    ("width", int, "image: pixels"),
    ("images-per-prompt", int, "image: images generated per prompt"),
    ("audio-seconds", float, "asr: seconds of audio per request"),
    ("characters", int, "tts: characters of text per request"),
    ("seq-len", int, "embedding: tokens per sequence"),
    ("query-len", int, "retrieval: tokens per query"),
    ("top-k", int, "retrieval: results per query"),
    ("corpus-size", int, "retrieval: vectors in the corpus"),
)


def _setting_options(func):
    for name, kind, help_text in reversed(SETTING_OPTIONS):
        func = click.option(f"--{name}", type=kind, default=None, help=help_text)(func)
    return click.option(
        "--guidance/--no-guidance", default=None, help="image: classifier-free guidance"
    )(func)


def _parse_generic(pairs: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"-o {pair!r}: expected NAME=VALUE")
        options[name.strip().replace("-", "_")] = value.strip()
    return options


def _split_names(values: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for value in values:
        names.extend(n.strip() for n in value.split(",") if n.strip())
    return list(dict.fromkeys(names))


@click.command()
@click.option(
    "--workload",
    "-w",
    "workloads",
    multiple=True,
    help="Workload(s) to run, repeatable or comma-separated. Default: all.",
)
@click.option(
    "--preset", "-p", default=None, help="Model shape preset (default: per workload, tiny on CPU)."
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Local model folder with real weights (offline).",
)
@click.option("--batch-sizes", "-b", default=None, help="Comma-separated batch sizes, e.g. 1,8,32.")
@click.option("--device", default=None, help="cuda:N or cpu (default: cuda:0 when there is a GPU).")
@click.option(
    "--dtype",
    default=None,
    help="bf16, fp16 or fp32 (default: bf16 on GPUs with bf16 tensor cores, else fp16; fp32 on CPU).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Parent folder of the new run folder.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--warmup", type=int, default=3, show_default=True, help="Untimed iterations per batch size."
)
@click.option(
    "--iterations",
    type=int,
    default=10,
    show_default=True,
    help="Minimum timed iterations per batch size.",
)
@click.option(
    "--min-duration",
    type=float,
    default=None,
    help="Minimum timed seconds per batch size (default 2 on GPU, 0.2 on CPU).",
)
@click.option("--max-iterations", type=int, default=10_000, show_default=True)
@click.option(
    "--sample-interval",
    type=float,
    default=0.1,
    show_default=True,
    help="Sampler period in seconds; 0 turns the sampler off.",
)
@click.option(
    "--idle-seconds",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds of idle power measured before the sweep.",
)
@click.option(
    "--engine",
    default="eager",
    show_default=True,
    help="Execution engine (eager; others where a workload offers them).",
)
@_setting_options
@click.option(
    "--option",
    "-o",
    "generic",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any workload setting, e.g. -o steps=4.",
)
@click.option(
    "--price/--no-price",
    "show_price",
    default=True,
    help="End with the cost and margin table at market prices.",
)
@click.option(
    "--count-flops/--no-count-flops",
    default=True,
    show_default=True,
    help="Count model FLOPs in one extra untimed iteration per batch size (for MFU).",
)
def run(**kw: Any) -> None:
    """Measure workloads on this machine and write a new run folder."""
    from harness.cli.run_output import RichProgress, print_summary
    from harness.execute import execute_run
    from harness.plan import (
        RunConfig,
        parse_batch_sizes,
        plan_workloads,
        resolve_device,
        resolve_dtype,
    )
    from workloads import registry

    for name, low in (("iterations", 1), ("warmup", 0), ("max_iterations", 1)):
        if kw[name] < low:
            raise BadInput(f"--{name.replace('_', '-')} must be >= {low} (got {kw[name]})")
    if kw["sample_interval"] < 0:
        raise BadInput(f"--sample-interval must be >= 0 (got {kw['sample_interval']})")
    device = resolve_device(kw["device"])
    dtype = resolve_dtype(kw["dtype"], device)
    names = _split_names(kw["workloads"]) or list(registry.available())
    settings = {
        name.replace("-", "_"): kw[name.replace("-", "_")] for name, _, _ in SETTING_OPTIONS
    }
    settings["guidance"] = kw["guidance"]
    settings.update(_parse_generic(kw["generic"]))
    min_duration = kw["min_duration"]
    if min_duration is None:
        min_duration = 0.2 if device == "cpu" else 2.0
    if min_duration < 0:
        raise BadInput(f"--min-duration must be >= 0 (got {min_duration})")
    plans = plan_workloads(
        names,
        device=device,
        dtype=dtype,
        preset=kw["preset"],
        model_path=kw["model_path"],
        batch_sizes=None if kw["batch_sizes"] is None else parse_batch_sizes(kw["batch_sizes"]),
        options=settings,
        seed=kw["seed"],
        engine=kw["engine"],
    )
    config = RunConfig(
        workloads=plans,
        device=device,
        dtype=dtype,
        seed=kw["seed"],
        warmup=kw["warmup"],
        iterations=kw["iterations"],
        min_duration_s=min_duration,
        max_iterations=kw["max_iterations"],
        sample_interval_s=kw["sample_interval"] or None,
        idle_power_s=kw["idle_seconds"],
        engine=kw["engine"],
        count_flops=kw["count_flops"],
    )
    progress = RichProgress(plans)
    command = ["gpucost", *sys.argv[1:]]
    try:
        with progress:
            store = execute_run(config, kw["out"], command=command, progress=progress)
    except KeyboardInterrupt:
        click.echo("Interrupted: the rows measured so far are kept.", err=True)
        sys.exit(130)
    print_summary(store.path, store.measurements)
    if kw["show_price"]:
        _print_prices(store.path)


def _print_prices(run_dir: Path) -> None:
    try:
        from harness.cli.money import print_market_summary
    except ImportError:
        return
    print_market_summary(run_dir)
