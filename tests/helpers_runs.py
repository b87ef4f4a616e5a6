"""Hand-made run folders (run.json + measurements.csv with the contract columns) for money tests."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.results.schema import EXTRA_MEASUREMENT_COLUMNS, MEASUREMENT_COLUMNS

# Round figures: $3.60/h on one GPU is $0.001 per GPU-second.
TEST_CARD = """\
provider: test
currency: USD
as_of: 2026-11-01
source: hand-made for tests
instances:
  - name: one
    gpu: H100-SXM-80GB
    gpu_count: 1
    vcpus: 8
    memory_gib: 64
    region: lab
    prices_per_hour: {on_demand: 3.60, spot: 1.80, reserved_1y: 2.88, reserved_3y: 1.44}
  - name: eight
    gpu: H100-SXM-80GB
    gpu_count: 8
    vcpus: 96
    memory_gib: 1024
    region: lab
    prices_per_hour: {on_demand: 28.80}
  - name: cpu
    gpu: none
    gpu_count: 0
    vcpus: 4
    memory_gib: 16
    region: lab
    prices_per_hour: {on_demand: 0.36}
  - name: l4
    gpu: L4
    gpu_count: 1
    vcpus: 4
    memory_gib: 16
    region: lab
    prices_per_hour: {on_demand: 0.72}
"""

# $35,040 ÷ (4 years × 8760 h) = $1.00/h capital, + $0.80/h hosting = $1.80/h owned.
OWNED_CARD = """\
provider: lab
currency: USD
as_of: 2026-11-01
source: hand-made for tests
instances:
  - name: rack
    gpu: H100-SXM-80GB
    gpu_count: 1
    vcpus: 8
    memory_gib: 64
    region: basement
    self_hosted:
      capital_cost_per_gpu: 35040
      depreciation_years: 4
      hosting_cost_per_hour: 0.80
      electricity_price_per_kwh: 0.10
      pue: 1.5
"""


# One L4 box with on-demand and spot prices: a small valid card that hostile-card tests edit.
ONE_BOX_CARD = """\
provider: acme
currency: USD
as_of: 2026-10-01
source: test quote
instances:
  - name: box-1
    gpu: L4
    gpu_count: 1
    vcpus: 4
    memory_gib: 16
    region: test-1
    prices_per_hour: {on_demand: 1.0, spot: 0.5}
"""


def card_instances(folder: Path) -> list:
    """The instances of TEST_CARD and OWNED_CARD, written to `folder` as a user would."""
    from harness.money import load_card_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.yaml").write_text(TEST_CARD, encoding="utf-8")
    (folder / "lab.yaml").write_text(OWNED_CARD, encoding="utf-8")
    return load_card_file(folder / "test.yaml")[1] + load_card_file(folder / "lab.yaml")[1]


H100 = "NVIDIA H100 80GB HBM3"
L4 = "NVIDIA L4"


def row(
    workload: str,
    batch_size: int,
    wall_s: float | None,
    *,
    gpu_name: str | None = H100,
    status: str = "ok",
    **values: Any,
) -> dict[str, Any]:
    """A measurement row; every contract column not given stays empty (not measured)."""
    base: dict[str, Any] = {c: None for c in (*MEASUREMENT_COLUMNS, *EXTRA_MEASUREMENT_COLUMNS)}
    base.update(
        workload=workload,
        preset="tiny",
        model="tiny",
        batch_size=batch_size,
        status=status,
        dtype="bf16",
        iterations=10 if status == "ok" else None,
        device="cuda:0" if gpu_name else "cpu",
        gpu_name=gpu_name,
        wall_s_p50=wall_s,
        wall_s_mean=wall_s,
    )
    if status != "ok":
        base.update(
            error=f"{status} at batch {batch_size}",
            wall_s_p50=None,
            wall_s_mean=None,
            iterations=None,
        )
    base.update(values)
    return base


def text_row(
    batch_size: int = 8,
    wall_s: float = 2.0,
    *,
    prefill_s: float | None = -1.0,
    decode_s: float | None = -1.0,
    input_len: int = 128,
    output_len: int = 64,
    **values: Any,
) -> dict[str, Any]:
    # By default the phases split the wall time 1 : 3 (a phase never outlasts its iteration).
    return row(
        "text",
        batch_size,
        wall_s,
        prefill_s_p50=wall_s * 0.25 if prefill_s == -1.0 else prefill_s,
        decode_s_p50=wall_s * 0.75 if decode_s == -1.0 else decode_s,
        input_tokens=batch_size * input_len,
        output_tokens=batch_size * output_len,
        requests=batch_size,
        **values,
    )


def image_row(batch_size: int = 8, wall_s: float = 2.0, **values: Any) -> dict[str, Any]:
    return row("image", batch_size, wall_s, images=batch_size, requests=batch_size, **values)


def asr_row(
    batch_size: int = 4, wall_s: float = 1.5, *, audio_s_each: float = 30.0, **values: Any
) -> dict[str, Any]:
    return row(
        "asr",
        batch_size,
        wall_s,
        audio_s=batch_size * audio_s_each,
        output_tokens=batch_size * 100,
        requests=batch_size,
        **values,
    )


def tts_row(
    batch_size: int = 2, wall_s: float = 0.9, *, characters_each: int = 500, **values: Any
) -> dict[str, Any]:
    return row(
        "tts",
        batch_size,
        wall_s,
        characters=batch_size * characters_each,
        audio_s=batch_size * 30.0,
        requests=batch_size,
        **values,
    )


def embedding_row(
    batch_size: int = 32, wall_s: float = 0.4, *, seq_len: int = 256, **values: Any
) -> dict[str, Any]:
    return row(
        "embedding",
        batch_size,
        wall_s,
        input_tokens=batch_size * seq_len,
        sequences=batch_size,
        **values,
    )


def retrieval_row(batch_size: int = 100, wall_s: float = 0.05, **values: Any) -> dict[str, Any]:
    return row(
        "retrieval", batch_size, wall_s, queries=batch_size, input_tokens=batch_size * 16, **values
    )


def write_run(
    parent: Path,
    rows: Sequence[dict[str, Any]],
    *,
    run_id: str = "20261127T232900Z-000001",
    gpu_name: str | None = H100,
    power_limit_w: float | None = 700.0,
    status: str = "complete",
) -> Path:
    """Write `parent/run_id/` with run.json and measurements.csv; returns the folder."""
    folder = parent / run_id
    folder.mkdir(parents=True)
    device = (
        {
            "type": "cuda",
            "torch_device": "cuda:0",
            "name": gpu_name,
            "gpu_name": gpu_name,
            "power_limit_w": power_limit_w,
            "has_energy_counter": True,
        }
        if gpu_name
        else {
            "type": "cpu",
            "torch_device": "cpu",
            "name": "test cpu",
            "gpu_name": None,
            "power_limit_w": None,
            "has_energy_counter": False,
        }
    )
    meta = {
        "run_id": run_id,
        "created_at": "2026-11-27T23:29:00+00:00",
        "finished_at": "2026-11-27T23:30:10+00:00",
        "status": status,
        "gpucost_version": "0.1.0",
        "command": ["gpucost", "run"],
        "host": {"cpu_count": 2},
        "device": device,
        "libraries": {},
        "config": {},
        "workloads": {},
        "idle_power_w": None,
        "calibration": None,
    }
    (folder / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    columns = [*MEASUREMENT_COLUMNS, *EXTRA_MEASUREMENT_COLUMNS]
    for r in rows:
        columns.extend(k for k in r if k not in columns)
    with (folder / "measurements.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {c: "" if r.get(c) is None else r.get(c) for c in columns} | {"run_id": run_id}
            )
    return folder


def start_sleepy_run(out: Path, batch_sizes: str, **popen: Any) -> subprocess.Popen:
    """`gpucost run -w sleepy` (the test plugin, 0.2 s an iteration) in a child process, once
    its first row is on disk: the moment to stop it and see what survives."""
    cmd = [sys.executable, "-m", "harness", "run", "-w", "sleepy", "-b", batch_sizes]
    cmd += ["--out", str(out), "--iterations", "3", "--warmup", "0", "--min-duration", "0"]
    cmd += ["--idle-seconds", "0", "-o", "sleep_s=0.2", "--no-price"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = list(out.glob("*/measurements.csv")) if out.exists() else []
        if runs and len(runs[0].read_text().splitlines()) >= 2:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the first row never appeared")
