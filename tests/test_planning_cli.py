"""`gpucost capacity` and `gpucost plan` end to end, and what they say to bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.planning.capacity import read_capacity
from tests.helpers_runs import row, write_run

CARD = """\
provider: lab
currency: USD
as_of: 2026-11-01
source: hand-made for tests
instances:
  - name: small
    gpu: A10G
    gpu_count: 1
    vcpus: 4
    memory_gib: 16
    region: lab
    prices_per_hour: {on_demand: 1.00, spot: 0.40}
  - name: big
    gpu: H100-SXM-80GB
    gpu_count: 1
    vcpus: 8
    memory_gib: 64
    region: lab
    prices_per_hour: {on_demand: 3.00, reserved_1y: 2.00}
"""

# small: $1/h, 10 req/s short, 2 long; big: $3/h, 20 short, 10 long (the hand-solved case).
CAPACITY = """\
instance,input_len_max,output_len_max,max_requests_per_s,max_requests_per_s_low,max_requests_per_s_high,source
lab:small,512,128,10,8,11,hand
lab:small,4096,1024,2,,,hand
lab:big,512,128,20,,,hand
lab:big,4096,1024,10,,,hand
"""


def _files(tmp_path: Path, capacity: str = CAPACITY) -> tuple[Path, Path]:
    card = tmp_path / "card.yaml"
    card.write_text(CARD, encoding="utf-8")
    table = tmp_path / "capacity.csv"
    table.write_text(capacity, encoding="utf-8")
    return card, table


def _profile(tmp_path: Path, rates: list[float], name: str = "profile.csv") -> Path:
    path = tmp_path / name
    lines = ["start,requests_per_s"] + [
        f"2026-01-01T{h:02d}:00:00Z,{r}" for h, r in enumerate(rates)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _plan(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["plan", *args])
    return result.exit_code, result.stdout, result.stderr


def test_plan_json_contract_and_answer(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    profile = _profile(tmp_path, [30.0] * 4)
    code, out, err = _plan(
        "--traffic", str(profile), "--input-len", "1000", "--output-len", "500",
        "--capacity", str(table), "--ratecard", str(card), "--plan", "on_demand",
        "--target-utilization", "1", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    # 30 long req/s: big does 10 for $3 (0.30 per req/s), small 2 for $1 (0.50): 3 big, $9/h.
    assert doc["total_cost_usd"] == pytest.approx(4 * 9.0)
    assert doc["horizon_hours"] == pytest.approx(4.0)
    assert doc["cost_per_request_usd"] == pytest.approx(36.0 / (30 * 4 * 3600))
    assert doc["fleet"] == [
        {"instance": "lab:big", "plan": "on_demand", "count_max": 3, "instance_hours": 12.0,
         "count_min": 3, "count_median": 3.0}
    ]  # fmt: skip
    assert {b["name"]: b["total_cost_usd"] for b in doc["baselines"]} == {
        "cheapest single type on demand, sized for the peak": pytest.approx(36.0),
        "cheapest single type on demand, autoscaled per step": pytest.approx(36.0),
        "best single type with the same plans": pytest.approx(36.0),
    }
    assert doc["solver"]["optimal"] is True
    assert doc["cost_per_1m_output_tokens_usd"] == pytest.approx(36.0 / (30 * 4 * 3600 * 500) * 1e6)


def test_plan_text_answer_first_within_80_columns(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    profile = _profile(tmp_path, [10.0] * 12 + [40.0] * 12)
    code, out, err = _plan(
        "--traffic", str(profile), "--input-len", "100", "--output-len", "100",
        "--capacity", str(table), "--ratecard", str(card), "--price", "text.request=0.001",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Fleet for ")
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert "Bill:" in out and "Savings:" in out and "Caveats:" in out
    assert "prices as of 2026-11-01" in out
    assert "gross margin" in " ".join(out.split())


def test_plan_csv_schedule_has_a_row_per_step(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    profile = _profile(tmp_path, [10.0, 40.0, 10.0])
    code, out, err = _plan(
        "--traffic", str(profile), "--input-len", "100", "--output-len", "100",
        "--capacity", str(table), "--ratecard", str(card), "--format", "csv",
    )  # fmt: skip
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1 + 3
    assert out.startswith("step,start_h,requests_per_s")


def test_growth_and_horizon_scale_the_bill(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    profile = _profile(tmp_path, [30.0])
    args = ["--traffic", str(profile), "--input-len", "1000", "--output-len", "500",
            "--capacity", str(table), "--ratecard", str(card), "--plan", "on_demand",
            "--target-utilization", "1", "--format", "json"]  # fmt: skip
    one = json.loads(_plan(*args)[1])
    week = json.loads(_plan(*args, "--horizon", "7d", "--growth", "2")[1])
    assert one["total_cost_usd"] == pytest.approx(9.0)
    assert week["horizon_hours"] == pytest.approx(168.0)
    assert week["total_cost_usd"] == pytest.approx(168 * 6 * 3.0)  # 60 req/s: 6 big


@pytest.mark.parametrize(
    ("capacity", "message"),
    [
        ("instance,max_requests_per_s\nlab:small,0\n", "line 2, column max_requests_per_s"),
        ("instance,max_requests_per_s\nlab:small,-3\n", "must be > 0"),
        ("instance,max_requests_per_s\nlab:small,abc\n", "is not a number"),
        ("instance,max_requests_per_s\nlab:small,nan\n", "not a finite number"),
        ("instance,max_requests_per_s\nsmall,3\n", "column instance"),
        ("instance,max_requests_per_s,colour\nlab:small,3,red\n", "unknown column 'colour'"),
        ("max_requests_per_s\n3\n", "no instance column"),
        ("instance,max_requests_per_s\n", "no capacity rows"),
        ("", "empty"),
        ("instance,input_len_max,max_requests_per_s\nlab:small,1.5,3\n", "whole number"),
        ("instance,max_requests_per_s\nlab:small,3\nlab:small,4\n", "given twice (also line 2)"),
        ("instance,max_requests_per_s,max_requests_per_s_low\nlab:small,3,5\n", "is above"),
        ("instance,max_requests_per_s\nlab:small,3,4\n", "line 2: 3 cells"),
    ],
)
def test_capacity_file_errors_name_file_line_and_column(
    tmp_path: Path, capacity: str, message: str
) -> None:
    card, table = _files(tmp_path, capacity)
    profile = _profile(tmp_path, [1.0])
    code, _, err = _plan("--traffic", str(profile), "--input-len", "10", "--output-len", "10",
                           "--capacity", str(table), "--ratecard", str(card))  # fmt: skip
    assert code == 2
    assert message in err and str(table) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _hostile(tmp_path: Path, *extra: str, rates: list[float] | None = None,
             capacity: str = CAPACITY) -> str:  # fmt: skip
    card, table = _files(tmp_path, capacity)
    profile = _profile(tmp_path, rates if rates is not None else [5.0])
    code, _, err = _plan("--traffic", str(profile), "--capacity", str(table),
                           "--ratecard", str(card), *extra)  # fmt: skip
    assert code != 0 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_profile_with_no_requests(tmp_path: Path) -> None:
    err = _hostile(tmp_path, "--input-len", "10", "--output-len", "10", rates=[0.0, 0.0])
    assert "every rate is 0" in err


def test_lengths_beyond_every_bucket(tmp_path: Path) -> None:
    err = _hostile(tmp_path, "--input-len", "9000", "--output-len", "10")
    assert "no bucket of the capacity table holds" in err


def test_plan_no_instance_prices(tmp_path: Path) -> None:
    err = _hostile(tmp_path, "--input-len", "10", "--output-len", "10", "--plan", "reserved_3y")
    assert "no instance of the capacity table has a reserved_3y price" in err


def test_bucket_served_only_by_an_instance_without_the_plan(tmp_path: Path) -> None:
    # Only `small` measured long requests; with spot only, nobody serves them... small has spot.
    capacity = "instance,input_len_max,output_len_max,max_requests_per_s\nlab:big,4096,1024,10\n"
    err = _hostile(tmp_path, "--input-len", "100", "--output-len", "100", "--plan", "spot",
                   capacity=capacity)  # fmt: skip
    assert "spot" in err


def test_infeasible_min_instances_with_spot_cap(tmp_path: Path) -> None:
    capacity = "instance,max_requests_per_s\nlab:small,10\n"
    err = _hostile(tmp_path, "--input-len", "10", "--output-len", "10", "--plan", "spot",
                   "--max-spot-share", "0.5", "--min-instances", "2",
                   capacity=capacity)  # fmt: skip
    assert "no fleet meets these constraints" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-utilization", "0"], "--target-utilization"),
        (["--target-utilization", "1.5"], "--target-utilization"),
        (["--max-spot-share", "-0.1"], "--max-spot-share"),
        (["--min-instances", "-1"], "--min-instances"),
        (["--growth", "0"], "--growth"),
        (["--step", "soon"], "--step"),
        (["--horizon", "-3d"], "--horizon"),
        (["--plan", "lease"], "unknown plan"),
        (["--instance", "lab:none"], "has no instance"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    err = _hostile(tmp_path, "--input-len", "10", "--output-len", "10", *args)
    assert message in err


def test_profile_errors(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("start,requests_per_s\n2026-01-01T00:00:00Z,5\n2026-01-01T00:00:00Z,6\n")
    code, _, err = _plan("--traffic", str(bad), "--input-len", "10", "--output-len", "10",
                         "--capacity", str(table), "--ratecard", str(card))  # fmt: skip
    assert code == 2 and "line 3, column start" in err
    bad.write_text("start,requests_per_s\n2026-01-01T00:00:00Z,inf\n")
    code, _, err = _plan("--traffic", str(bad), "--input-len", "10", "--output-len", "10",
                         "--capacity", str(table), "--ratecard", str(card))  # fmt: skip
    assert code == 2 and "line 2, column requests_per_s" in err
    good = _profile(tmp_path, [5.0])
    code, _, err = _plan("--traffic", str(good), "--capacity", str(table), "--ratecard", str(card))
    assert code == 2 and "--length-mix" in err


def test_capacity_and_runs_are_exclusive(tmp_path: Path) -> None:
    err = _hostile(tmp_path, "--input-len", "10", "--output-len", "10", "--runs", "x")
    assert "either --capacity" in err


# Endpoint runs: levels of request rate with their served requests/s and p99 TTFT.
def _endpoint_run(parent: Path, run_id: str, levels: list[tuple[float, float, float]],
                  *, gpu_name: str = "NVIDIA A10G", input_len: int = 512,
                  output_len: int = 128, **extra) -> Path:  # fmt: skip
    rows = [
        row("text", 8, 1.0, gpu_name=gpu_name, request_rate=rate, requests_per_s=served,
            ttft_s_p99=ttft, window_s=60.0, gpus_used=1, input_len=input_len,
            output_len=output_len, requests=served * 60, input_tokens=served * 60 * input_len,
            output_tokens=served * 60 * output_len, **extra)
        for rate, served, ttft in levels
    ]  # fmt: skip
    return write_run(parent, rows, run_id=run_id, gpu_name=gpu_name)


def test_capacity_from_runs_takes_best_level_below_first_miss(tmp_path: Path) -> None:
    card, _ = _files(tmp_path)
    runs = tmp_path / "runs"
    run = _endpoint_run(
        runs, "20261201T000000Z-000001",
        # 2 and 4 meet, 8 misses, 16 "meets" (noise above a miss): capacity is level 4's 3.9.
        [(2.0, 2.0, 0.2), (4.0, 3.9, 0.4), (8.0, 6.0, 2.0), (16.0, 7.0, 0.3)],
        cost_factor_low=0.9, cost_factor_high=1.3,
    )  # fmt: skip
    out = tmp_path / "capacity.csv"
    args = ["capacity", str(run), "--slo", "ttft_p99=0.5", "--ratecard", str(card),
            "--instance", "lab:small", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    entries = read_capacity(out)
    assert [(e.instance, e.bucket) for e in entries] == [("lab:small", (512, 128))]
    entry = entries[0]
    assert entry.max_requests_per_s == pytest.approx(3.9)
    assert entry.max_requests_per_s_low == pytest.approx(3.9 / 1.3)
    assert entry.max_requests_per_s_high == pytest.approx(3.9 / 0.9)
    assert "level 4" in entry.source and not entry.projected


def test_capacity_without_slo_uses_the_marked_max_load(tmp_path: Path) -> None:
    card, _ = _files(tmp_path)
    runs = tmp_path / "runs"
    run = _endpoint_run(runs, "20261201T000000Z-000002", [(2.0, 2.0, 0.2), (4.0, 3.9, 0.4)],
                        slo="ttft_p99=0.5", slo_max_load=False)  # fmt: skip
    result = CliRunner().invoke(main, ["capacity", str(run), "--ratecard", str(card)])
    assert result.exit_code == 2 and "pass --slo" in result.stderr
    marked = _endpoint_run(runs, "20261201T000000Z-000003", [(2.0, 2.0, 0.2)],
                           slo="ttft_p99=0.5", slo_max_load=True)  # fmt: skip
    result = CliRunner().invoke(
        main, ["capacity", str(marked), "--ratecard", str(card), "--instance", "lab:small"]
    )
    assert result.exit_code == 0, result.stderr
    assert "lab:small,512,128,2," in result.stdout


def test_capacity_refuses_runs_without_load_levels(tmp_path: Path) -> None:
    card, _ = _files(tmp_path)
    run = write_run(tmp_path / "runs", [row("text", 8, 1.0)])
    result = CliRunner().invoke(main, ["capacity", str(run), "--slo", "ttft_p99=1",
                                       "--ratecard", str(card)])  # fmt: skip
    assert result.exit_code == 2 and "no endpoint load levels" in result.stderr


def test_plan_from_runs_on_the_fly(tmp_path: Path) -> None:
    card, _ = _files(tmp_path)
    runs = tmp_path / "runs"
    run = _endpoint_run(runs, "20261201T000000Z-000004", [(2.0, 2.0, 0.2), (4.0, 4.0, 0.4)])
    profile = _profile(tmp_path, [8.0, 8.0])
    code, out, err = _plan("--traffic", str(profile), "--input-len", "100", "--output-len", "100",
                           "--runs", str(run), "--slo", "ttft_p99=0.5", "--ratecard", str(card),
                           "--instance", "lab:small",
                           "--plan", "on_demand", "--target-utilization", "1",
                           "--format", "json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["fleet"][0]["instance"] == "lab:small" and doc["fleet"][0]["count_max"] == 2
    assert doc["total_cost_usd"] == pytest.approx(2 * 2 * 1.0)


def test_project_adds_a_gpu_not_measured_marked_projected(tmp_path: Path) -> None:
    card, _ = _files(tmp_path)
    runs = tmp_path / "runs"
    # Both phases memory-bound (1 FLOP per byte), no host time: on the H100 the level's time
    # scales by A10G bandwidth ÷ H100 bandwidth, so its requests/s by the inverse.
    run = _endpoint_run(
        runs, "20261201T000000Z-000005", [(2.0, 2.0, 0.2)], dtype="bf16",
        prefill_s_p50=0.25, decode_s_p50=0.75, model_flops=1e9, min_bytes=1e9,
        prefill_flops=2.5e8, prefill_bytes=2.5e8, decode_flops=7.5e8, decode_bytes=7.5e8,
    )  # fmt: skip
    args = ["capacity", str(run), "--slo", "ttft_p99=0.5", "--ratecard", str(card),
            "--instance", "lab:small", "--instance", "lab:big", "--project", "H100-SXM-80GB"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr
    table = tmp_path / "capacity.csv"
    table.write_text(result.stdout, encoding="utf-8")
    entries = {e.instance: e for e in read_capacity(table)}
    assert not entries["lab:small"].projected
    big = entries["lab:big"]
    assert big.projected and "projected from" in big.source
    assert big.max_requests_per_s == pytest.approx(2.0 * 3350 / 600, rel=1e-4)  # 6 digits


def test_project_without_flops_is_one_line(tmp_path: Path) -> None:
    card, _ = _files(tmp_path)
    run = _endpoint_run(tmp_path / "runs", "20261201T000000Z-000006", [(2.0, 2.0, 0.2)])
    args = ["capacity", str(run), "--slo", "ttft_p99=0.5", "--ratecard", str(card),
            "--instance", "lab:small", "--instance", "lab:big", "--project", "H100-SXM-80GB"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--project H100-SXM-80GB" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_margin_at_a_price_and_a_scenario(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    profile = _profile(tmp_path, [30.0] * 4)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "workload: text\ndirect_costs_per_call: {third_party_api_usd: 0.00001}\n"
        "revenue: {model: per_call, price_usd: 0.0001}\n",
        encoding="utf-8",
    )
    args = ["--traffic", str(profile), "--input-len", "1000", "--output-len", "500",
            "--capacity", str(table), "--ratecard", str(card), "--plan", "on_demand",
            "--target-utilization", "1", "--format", "json"]  # fmt: skip
    requests = 30 * 4 * 3600  # 432,000 over 4 h; the fleet costs $36
    months = 4 / (8760 / 12)
    priced = json.loads(_plan(*args, "--price", "text.request=0.0001")[1])["money"]
    assert priced["monthly_revenue_usd"] == pytest.approx(requests * 0.0001 / months)
    assert priced["gross_margin"] == pytest.approx((43.2 - 36.0) / 43.2)
    assert priced["break_even_price_per_request_usd"] == pytest.approx(36.0 / requests)
    code, out, err = _plan(*args, "--scenario", str(scenario))
    assert code == 0, err
    money = json.loads(out)["money"]
    # Revenue $43.20; costs $36 + 432,000 × $0.00001 = $40.32.
    assert money["gross_margin"] == pytest.approx((43.2 - 40.32) / 43.2)
    assert money["monthly_direct_cost_usd"] == pytest.approx(4.32 / months)
    assert money["break_even_price_per_request_usd"] == pytest.approx(40.32 / requests)


def test_solver_time_limit_is_a_stated_result_or_one_line(tmp_path: Path) -> None:
    card, table = _files(tmp_path)
    profile = _profile(tmp_path, [float(5 + (7 * h) % 23) for h in range(24)])
    code, out, err = _plan("--traffic", str(profile), "--input-len", "1000", "--output-len",
                           "500", "--capacity", str(table), "--ratecard", str(card),
                           "--time-limit", "0.001", "--gap", "0", "--format", "json")  # fmt: skip
    assert "Traceback" not in err
    if code == 0:
        solver = json.loads(out)["solver"]
        assert solver["gap"] is not None and solver["time_limit_s"] == 0.001
    else:
        assert code == 2 and "time limit" in err and len(err.strip().splitlines()) == 1


def test_plan_runs_without_importing_torch_or_endpoint_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    card, table = _files(tmp_path)
    profile = _profile(tmp_path, [30.0])
    command = [sys.executable, "-X", "importtime", "-m", "harness", "plan", "--traffic",
               str(profile), "--input-len", "1000", "--output-len", "500", "--capacity",
               str(table), "--ratecard", str(card), "--format", "json"]  # fmt: skip
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(command, capture_output=True, text=True, cwd=repo, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["total_cost_usd"] > 0
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "scipy.optimize" in imported  # the check sees real imports
    assert not any(name.split(".")[0] == "torch" for name in imported)
    assert not any(name.startswith("harness.endpoint") for name in imported)
