"""`gpucost run`: measure workloads over batch sizes into a new run folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from harness.cli.endpoint import endpoint_options, is_endpoint_run, run_endpoint_command
from harness.cli.numbers import EXACT_FLOAT, EXACT_INT
from harness.cli.stopped import echo_err, rows_kept_line
from harness.errors import BadInput, GpucostError

_KINDS: dict[str, Any] = {"int": EXACT_INT, "float": EXACT_FLOAT, "bool": bool}


def _declared_options() -> tuple[tuple[str, type, str], ...]:
    """Every workload spec's own `--NAME` options, the first declaration of a name winning."""
    from workloads import registry

    found: dict[str, tuple[str, type, str]] = {}
    for spec in registry.specs().values():
        for option in spec.options:
            found.setdefault(option.name, (option.name, _KINDS[option.kind], option.help))
    return tuple(found.values())


SETTING_OPTIONS: tuple[tuple[str, type, str], ...] = _declared_options()


def _setting_options(func):
    for name, kind, help_text in reversed(SETTING_OPTIONS):
        if kind is bool:
            flags = f"--{name}/--no-{name}"
            func = click.option(flags, default=None, help=help_text)(func)
        else:
            func = click.option(f"--{name}", type=kind, default=None, help=help_text)(func)
    return func


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


def check_run_options(kw: dict[str, Any], elsewhere: bool = False) -> tuple[Any, Any]:
    """Every option of an in-process run checked, before a folder is made or a model is built:
    the RunConfig and the SLO (or None); BadInput for the first option that is wrong.

    `elsewhere`: the run happens on another machine's GPU (a sweep's cluster), so this machine's
    devices are not asked: a CUDA device and, unless --dtype says, bf16 stand in for them."""
    from harness.measure.goodput import unjudged_metrics
    from harness.measure.plan import (
        DEFAULT_THREADS,
        RunConfig,
        parse_batch_sizes,
        plan_workloads,
        resolve_device,
        resolve_dtype,
    )
    from harness.slo import parse_slo
    from workloads import registry

    slo = parse_slo(kw["slo"]) if kw.get("slo") is not None else None
    requested = kw["device"]
    if elsewhere and (requested is None or str(requested).startswith("cuda")):
        device = "cuda:0"
        dtype = resolve_dtype(kw["dtype"] or "bf16", device)
    else:
        device = resolve_device(requested)
        dtype = resolve_dtype(kw["dtype"], device)
    names = _split_names(kw["workloads"]) if kw["workloads"] else list(registry.available())
    settings = {
        name.replace("-", "_"): kw[name.replace("-", "_")] for name, _, _ in SETTING_OPTIONS
    }
    settings.update(_parse_generic(kw["generic"]))
    min_duration = kw["min_duration"]
    if min_duration is None:
        min_duration = 0.2 if device == "cpu" else 2.0
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
        threads=DEFAULT_THREADS if kw["threads"] is None else kw["threads"],
        slo=None if slo is None else slo.text,
    )
    if slo is not None:
        for plan in plans:
            missing = unjudged_metrics(slo, plan.workload_type.slo_metrics)
            if missing:
                echo_err(
                    f"warning: --slo {', '.join(missing)} cannot be judged for {plan.name} "
                    "in-process (it has no such latency): its rows leave slo_met empty unless "
                    "another target fails, and goodput empty"
                )
    return config, slo


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
    help="eager, or compiled (text, embedding, retrieval: torch.compile, and a static KV "
    "cache for text; compiled once per batch size before timing).",
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
    "--threads",
    type=int,
    default=None,
    help="torch CPU threads (default 1: steadiest timings on a shared machine; give the "
    "instance's cores to measure what a CPU instance serves).",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show every column of the summary (TTFT, TPOT, energy, memory) and full errors.",
)
@click.option(
    "--count-flops/--no-count-flops",
    default=True,
    show_default=True,
    help="Count model FLOPs in one extra untimed iteration per batch size (for MFU).",
)
@endpoint_options
def run(**kw: Any) -> None:
    """Measure workloads on this machine (or a live server: --endpoint) into a new run folder."""
    if is_endpoint_run(kw):
        run_endpoint_command(kw)
        return
    from harness.cli.run_output import RichProgress, print_summary
    from harness.measure.execute import execute_run
    from harness.measure.memory_check import check_memory
    from harness.results.store import StoreWriteError

    config, _ = check_run_options(kw)
    plans, device = config.workloads, config.device
    check_memory(plans, device)
    progress = RichProgress(plans)
    command = ["gpucost", *sys.argv[1:]]
    created: list[Any] = []
    try:
        with progress:
            store = execute_run(
                config, kw["out"], command=command, progress=progress, on_created=created.append
            )
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", None)
        how = "Interrupted" if signum is None else f"Stopped by {err}"
        echo_err(f"{how}: {rows_kept_line(created)}")
        sys.exit(130 if signum is None else 128 + signum)
    except StoreWriteError as err:
        raise GpucostError(f"{err}; the run stopped: {rows_kept_line(created)}") from None
    print_summary(
        store.path, store.measurements, verbose=kw["verbose"], unstable_cv=config.unstable_cv
    )
    if not any(row.get("status") == "ok" for row in store.measurements):
        raise GpucostError(
            f"no row was measured ok: see the error column of {store.path / 'measurements.csv'}"
        )
    if kw["show_price"]:
        _print_prices(store.path)


def _print_prices(run_dir: Path) -> None:
    try:
        from harness.cli.money import print_market_summary
    except ImportError:
        return
    print_market_summary(run_dir)
