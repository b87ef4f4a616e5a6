"""A plugin workload with a unit of its own is measured, priced, compared and reported, and the
harness reads everything it knows about it from the plugin's spec (no built-in names)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from tests.cli_helpers import invoke

FAST = ["--iterations", "2", "--warmup", "1", "--min-duration", "0", "--idle-seconds", "0"]



def measure(out: Path) -> Path:
    result = invoke("run", *FAST, "-w", "frames", "-b", "1,2", "-o", "frames_per_clip=10",
                    "--out", out, "--no-price")  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = [p for p in out.iterdir() if p.is_dir()]
    return run


def test_plugin_units_are_priced_compared_and_reported(test_plugin: Path, tmp_path: Path) -> None:
    run = measure(tmp_path / "a")
    rows = pd.read_csv(run / "measurements.csv")
    assert list(rows["frames"]) == [10, 20] and list(rows["requests"]) == [1, 2]

    result = invoke("price", run, "--price", "frames.frame=0.50/1K", "--format", "csv")
    assert result.exit_code == 0, result.output
    priced = pd.read_csv(io.StringIO(result.stdout))
    assert set(priced["unit"]) == {"frame", "clip"}
    frames = priced[priced["unit"] == "frame"]
    assert (frames["cost_per_unit_usd"] > 0).all()
    assert (frames["price_per_unit_usd"] == 0.0005).all()
    assert frames["gross_margin"].notna().all()
    clips = priced[priced["unit"] == "clip"].set_index(["instance", "plan", "batch_size"])
    per_frame = frames.set_index(["instance", "plan", "batch_size"])["cost_per_unit_usd"]
    # a clip is 10 frames: it carries the whole batch cost over a tenth as many units
    assert (clips["cost_per_unit_usd"] / per_frame).round(9).eq(10).all()

    table = invoke("price", run, "--price", "frames.frame=0.50/1K")
    assert table.exit_code == 0, table.output
    assert "1K frames" in table.output and "not priced" not in table.output

    other = measure(tmp_path / "b")
    compared = invoke("compare", run, other, "--format", "csv")
    assert compared.exit_code == 0, compared.output
    assert "frame" in compared.stdout

    page = tmp_path / "report.html"
    reported = invoke("report", run, "-o", page)
    assert reported.exit_code == 0, reported.output
    html = page.read_text()
    assert "frames" in html and "frame/s" in html


def test_workloads_lists_the_plugin_with_its_source_units_and_presets(test_plugin: Path) -> None:
    result = invoke("workloads", "--format", "json")
    assert result.exit_code == 0, result.output
    listed = {r["workload"]: r for r in json.loads(result.stdout)}
    assert listed["text"]["source"] == "built-in"
    assert listed["text"]["unit_labels"] == ["1M input tokens", "1M output tokens", "request"]
    assert listed["frames"]["source"] == "plugin gpucost-testplugin"
    assert listed["frames"]["unit_labels"] == ["1K frames", "clip"]
    assert listed["frames"]["presets"] == ["tiny"]
    # a plugin without a spec is measured but says it is not priced
    assert listed["noop"]["priced"] is False
