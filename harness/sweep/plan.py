"""`gpucost sweep plan`: one SkyPilot task per instance, all running the same `gpucost run`.

A plan is a folder: `<entry>.yaml` (a SkyPilot task file) per instance and `sweep.json` (what
was planned: instances, prices, expected hours, where results go). Nothing here imports SkyPilot.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from harness import __version__
from harness.errors import BadInput
from harness.gpus import skypilot_accelerator
from harness.money.inputs import load_ratecards
from harness.results.atomicfile import write_text
from harness.sweep.install import CHECKOUT, Install, check_install, prepare_install
from harness.sweep.state import STATE_FILE

RESULTS_DIR = "~/gpucost-results"
"""Where each task writes its run folder on the cluster (or the bucket's mount point)."""

BUCKET_MOUNT = "/gpucost-results"

GPUS_PLACEHOLDER = "{gpus}"
"""Replaced in run options by the instance's GPU count (e.g. vLLM's tensor parallel size)."""

_REFUSED_RUN_OPTIONS = ("--out",)

_USERINFO = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s?#]*@", re.IGNORECASE)

MAX_EXPECTED_HOURS = 24 * 30.0
"""A benchmark sweep kept for a month is a typo; the estimate must stay a real number."""


@dataclass(frozen=True)
class SweepEntry:
    name: str
    instance: str  # provider:name on the rate card
    cloud: str
    instance_type: str
    gpu: str
    gpu_count: int
    plan: str
    price_per_hour_usd: float
    task_file: str
    results_path: str


@dataclass(frozen=True)
class SweepPlan:
    gpucost_version: str
    run_args: list[str]
    managed: bool
    bucket: str | None
    expected_hours: float
    entries: list[SweepEntry]
    install: str = ""
    """What each task installs: a pip requirement, or the checkout a wheel was built from."""

    def estimated_cost_usd(self) -> float:
        return sum(e.price_per_hour_usd for e in self.entries) * self.expected_hours


def entry_name(instance_ref: str) -> str:
    """A cluster name SkyPilot accepts: lower case, digits and dashes, starting with a letter."""
    return "gpucost-" + re.sub(r"[^a-z0-9]+", "-", instance_ref.lower()).strip("-")


RunArgsCheck = Callable[[list[str]], None]
"""Parses `gpucost run` arguments as this gpucost's `run` would, raising BadInput in one line:
the command line's to give (harness/cli/sweep.py), so the sweep does not import the CLI."""


def check_run_args(run_args: Sequence[str], parse: RunArgsCheck) -> None:
    """The options must be ones this gpucost's `run` accepts; `--out` is the sweep's to set."""
    for number, arg in enumerate(run_args, start=1):
        if arg.split("=", 1)[0] in _REFUSED_RUN_OPTIONS:
            raise BadInput(f"run option {arg!r}: the sweep sets where results go (--bucket)")
        if _USERINFO.search(arg):
            # Task files and sweep.json are uploaded and kept: a password must not be in them.
            raise BadInput(
                f"run option {number} holds a URL with a user name or password: give the key "
                "to the cluster's environment instead (GPUCOST_API_KEY, e.g. with --setup)"
            )
    parse([a.replace(GPUS_PLACEHOLDER, "1") for a in run_args])


def build_task(entry: SweepEntry, run_args: Sequence[str], *, spot: bool, managed: bool,
               bucket: str | None, install: Install, plan_dir: Path,
               extra_setup: Sequence[str] = ()) -> dict[str, Any]:
    """The SkyPilot task (as its YAML mapping) for one instance."""
    accelerator = skypilot_accelerator(entry.gpu)
    resources: dict[str, Any] = {
        "infra": entry.cloud,
        "instance_type": entry.instance_type,
        "use_spot": spot,
    }
    if accelerator and entry.gpu_count:
        resources["accelerators"] = {accelerator: entry.gpu_count}
    if managed and spot:
        resources["job_recovery"] = {"strategy": "FAILOVER", "max_restarts_on_errors": 1}
    args = [a.replace(GPUS_PLACEHOLDER, str(entry.gpu_count)) for a in run_args]
    command = shlex.join(["gpucost", "run", *args, "--no-price"])
    task: dict[str, Any] = {
        "name": entry.name,
        "resources": resources,
        # A relative path from the home folder: a literal "~" in an env var would not expand.
        "envs": {"GPUCOST_RESULTS": entry.results_path.removeprefix("~/")},
        "setup": _setup(install, extra_setup),
        "run": (
            'cd ~ && mkdir -p "$GPUCOST_RESULTS"\n'
            f'{command} --out "$GPUCOST_RESULTS"\n'
        ),
    }
    mounts: dict[str, Any] = dict(install.file_mounts(plan_dir))
    if bucket:
        mounts[BUCKET_MOUNT] = {"source": bucket, "mode": "MOUNT"}
    if mounts:
        task["file_mounts"] = mounts
    return task


def _setup(install: Install, extra: Sequence[str]) -> str:
    return "".join(f"{line}\n" for line in (install.setup_line(), *extra))


def make_plan(
    instance_refs: Sequence[str],
    run_args: Sequence[str],
    out_dir: Path,
    *,
    spot: bool = False,
    managed: bool = False,
    bucket: str | None = None,
    expected_hours: float = 1.0,
    install: str = CHECKOUT,
    extra_setup: Sequence[str] = (),
    ratecard_files: Sequence[Path] = (),
    parse_run_args: RunArgsCheck,
) -> SweepPlan:
    """Write the task files and `sweep.json` into `out_dir`; nothing is launched."""
    if not instance_refs:
        raise BadInput("--instances: name at least one instance, e.g. aws:g6e.xlarge")
    if not 0 < expected_hours <= MAX_EXPECTED_HOURS:  # NaN fails this too
        raise BadInput(
            f"--expected-hours {expected_hours}: must be a number above 0 and at most "
            f"{MAX_EXPECTED_HOURS:g} (30 days)"
        )
    if (out_dir / STATE_FILE).exists():
        raise BadInput(
            f"-o {out_dir}: holds a launched sweep ({STATE_FILE}); plan into a new folder"
        )
    check_install(install)
    if managed and not bucket:
        raise BadInput("--managed: a managed job's cluster goes away when it ends; give --bucket")
    if bucket and not re.match(r"^(s3|gs|r2|cos|oci|https)://[^/]+", bucket):
        raise BadInput(f"--bucket {bucket!r}: expected a bucket URL such as s3://my-bucket/sweeps")
    check_run_args(run_args, parse_run_args)
    cards = load_ratecards(ratecard_files)
    plan_name = "spot" if spot else "on_demand"
    entries: list[SweepEntry] = []
    seen: set[str] = set()
    for ref in instance_refs:
        instance = cards.find(ref, "--instances")
        if instance.key in seen:
            continue
        seen.add(instance.key)
        price = instance.prices_per_hour_usd.get(plan_name)
        if price is None:
            raise BadInput(f"--instances {ref!r}: the rate card has no {plan_name} price for it")
        name = entry_name(instance.key)
        taken = {e.name for e in entries}
        suffix = 2
        while name in taken:  # two card instances whose names differ only in punctuation
            name = f"{entry_name(instance.key)}-{suffix}"
            suffix += 1
        where = f"{BUCKET_MOUNT}/{name}" if bucket else f"{RESULTS_DIR}/{name}"
        entries.append(SweepEntry(name, instance.key, instance.provider, instance.name,
                                  instance.gpu, instance.gpu_count, plan_name, price,
                                  f"{name}.yaml", where))
    # Everything is checked: now the folder, the wheel, the tasks.
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInput(f"-o {out_dir}: cannot write ({err.strerror or err})") from None
    prepared = prepare_install(install, out_dir)
    plan = SweepPlan(__version__, list(run_args), managed, bucket, expected_hours, entries,
                     install=prepared.requirement)
    write_plan(plan, out_dir, spot=spot, install=prepared, extra_setup=extra_setup)
    return plan


def write_plan(plan: SweepPlan, out_dir: Path, *, spot: bool, install: Install,
               extra_setup: Sequence[str] = ()) -> None:

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for entry in plan.entries:
            task = build_task(entry, plan.run_args, spot=spot, managed=plan.managed,
                              bucket=plan.bucket, install=install, plan_dir=out_dir,
                              extra_setup=extra_setup)
            write_text(out_dir / entry.task_file, _task_yaml(task))
        write_text(out_dir / "sweep.json", json.dumps(asdict(plan), indent=2) + "\n")
    except OSError as err:
        raise BadInput(f"-o {out_dir}: cannot write ({err.strerror or err})") from None


def _task_yaml(task: dict[str, Any]) -> str:
    """YAML with multi-line commands as literal blocks, as people write SkyPilot tasks."""
    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(task, Dumper=Dumper, sort_keys=False, width=100)


LEGACY_PLAN_FILE = "fleet.json"
"""What plans made before `gpucost fleet` became `gpucost sweep` are called: still read."""


def load_plan(plan_dir: Path) -> SweepPlan:
    path = plan_dir / "sweep.json"
    if not path.is_file() and (plan_dir / LEGACY_PLAN_FILE).is_file():
        path = plan_dir / LEGACY_PLAN_FILE
    if not path.is_file():
        raise BadInput(f"{plan_dir}: not a sweep plan (no sweep.json; make one with gpucost sweep plan)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = [SweepEntry(**e) for e in data.pop("entries")]
        return SweepPlan(entries=entries, **data)
    except (OSError, ValueError, TypeError, KeyError) as err:
        raise BadInput(f"{path}: not a readable sweep plan ({err})") from None
