"""The bootstrap interval of cost per unit: coverage of the true cost on seeded synthetic data,
reproducibility, the empty cases, the endpoint level's columns and a real in-process row."""

from __future__ import annotations

import csv
import heapq
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.endpoint.records import RequestRecord
from harness.endpoint.summary import summarise_level
from harness.money.confidence import (
    NOT_MEASURED,
    bootstrap_medians,
    endpoint_cost_columns,
    median_cost_interval,
    unstable_from_cv,
    window_cost_interval,
)

TRIALS = 200
# 200 trials of a 95 % interval: the hit rate has a standard deviation of 1.5 points, so a rate
# outside 90–99 % (over three of them) means the interval is not what it says.
COVERAGE = (0.90, 0.99)


def _covers(cost: float, low: float | None, high: float | None, truth: float) -> bool:
    assert low is not None and high is not None
    return cost * low <= truth <= cost * high


def test_median_interval_covers_the_true_median_at_its_nominal_rate() -> None:
    # Twice the trials: a bootstrap of a median runs a point or two under nominal at these sizes.
    rng = np.random.default_rng(20261202)
    for n, sigma in ((10, 0.05), (30, 0.3)):
        hits = 0
        for _ in range(2 * TRIALS):
            walls = rng.lognormal(mean=0.0, sigma=sigma, size=n)  # true median: exactly 1 s
            interval = median_cost_interval(walls.tolist())
            hits += _covers(float(np.median(walls)), interval.factor_low, interval.factor_high, 1.0)
        assert COVERAGE[0] <= hits / (2 * TRIALS) <= COVERAGE[1], (n, sigma, hits)


@pytest.mark.parametrize("n", [7, 12])
def test_drawn_medians_follow_the_brute_force_bootstrap(n: int) -> None:
    """The medians drawn from order statistics have the distribution of the medians of real
    resamples (odd and even sizes)."""
    rng = np.random.default_rng(n)
    values = rng.lognormal(0.0, 0.4, n)
    drawn = bootstrap_medians(values, resamples=100_000)
    brute = np.median(values[rng.integers(0, n, (100_000, n))], axis=1)
    qs = [0.025, 0.25, 0.5, 0.75, 0.975]
    assert np.quantile(drawn, qs) == pytest.approx(np.quantile(brute, qs), rel=0.02)
    assert drawn.std() == pytest.approx(brute.std(), rel=0.03)


def _closed_loop(rng: np.random.Generator, workers: int, requests: int) -> tuple:
    """`workers` clients sending back to back; a request of u tokens takes lognormal time with
    mean u / 128 s, so each client serves exactly 128 tokens/s in the long run."""
    sigma = np.sqrt(np.log(1 + 0.5**2))
    free = [0.0] * workers
    starts, ends, units = [], [], []
    for _ in range(requests):
        start = heapq.heappop(free)
        u = float(rng.integers(64, 193))
        end = start + rng.lognormal(-(sigma**2) / 2, sigma) * u / 128.0
        starts.append(start)
        ends.append(end)
        units.append(u)
        heapq.heappush(free, end)
    return np.array(starts), np.array(ends), np.array(units), workers * 128.0


def _open_loop(rng: np.random.Generator, rate: float, seconds: float) -> tuple:
    """Poisson arrivals at `rate` per second, 64–192 tokens each: 128 × rate tokens/s."""
    starts = np.sort(rng.uniform(0.0, seconds, rng.poisson(rate * seconds)))
    ends = starts + rng.lognormal(np.log(0.5), 0.3, starts.size)
    units = rng.integers(64, 193, starts.size).astype(float)
    return starts, ends, units, rate * 128.0


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: _closed_loop(rng, workers=4, requests=400),
        lambda rng: _closed_loop(rng, workers=8, requests=200),
        lambda rng: _open_loop(rng, rate=5.0, seconds=100.0),
        lambda rng: _open_loop(rng, rate=20.0, seconds=60.0),
    ],
    ids=["closed-4x100", "closed-8x25", "open-5rps", "open-20rps"],
)
def test_window_interval_covers_the_true_cost_at_its_nominal_rate(make) -> None:
    hits = 0
    for trial in range(TRIALS):
        starts, ends, units, true_rate = make(np.random.default_rng(trial))
        window = float(ends.max() - starts.min())
        interval = window_cost_interval(starts, ends, units, float(starts.min()), window)
        cost = window / units.sum()  # seconds per token: cost per unit up to a price
        hits += _covers(cost, interval.factor_low, interval.factor_high, 1.0 / true_rate)
    assert COVERAGE[0] <= hits / TRIALS <= COVERAGE[1], hits


def test_requests_in_lockstep_give_a_tight_interval() -> None:
    """Fixed-length requests served in waves (a closed loop of equal requests) cost the same in
    every stretch of the window: blocks spread each request over its service, so the waves'
    edges do not pass for noise."""
    starts = np.repeat(np.arange(30.0), 8)
    interval = window_cost_interval(starts, starts + 1.0, np.full(starts.size, 128.0), 0.0, 30.0)
    assert interval.factor_low == pytest.approx(1.0) and interval.factor_high == pytest.approx(1.0)
    assert interval.cv == pytest.approx(0.0, abs=1e-12)


def test_the_same_data_gives_the_same_interval_and_the_seed_is_what_fixes_it() -> None:
    walls = np.random.default_rng(3).lognormal(0.0, 0.2, 25).tolist()
    first, again = median_cost_interval(walls), median_cost_interval(list(walls))
    assert first == again
    assert median_cost_interval(walls, seed=1) != first
    starts, ends, units, _ = _open_loop(np.random.default_rng(4), 5.0, 30.0)
    window = float(ends.max() - starts.min())
    one = window_cost_interval(starts, ends, units, float(starts.min()), window)
    assert one == window_cost_interval(starts, ends, units, float(starts.min()), window)


def test_below_two_samples_the_interval_is_empty() -> None:
    assert median_cost_interval([]) == NOT_MEASURED
    assert median_cost_interval([0.5]) == NOT_MEASURED
    assert median_cost_interval([0.5, None]) == NOT_MEASURED  # type: ignore[list-item]
    assert window_cost_interval([0.0], [1.0], [10.0], 0.0, 1.0) == NOT_MEASURED
    assert window_cost_interval([0.0, 0.5], [1.0, 1.5], [0.0, 0.0], 0.0, 1.5) == NOT_MEASURED
    assert NOT_MEASURED.columns() == {
        "cost_factor_low": None, "cost_factor_high": None, "cost_cv": None,
    }  # fmt: skip
    interval = median_cost_interval([0.5, 0.6])
    assert interval.factor_low is not None and interval.factor_low <= 1.0 <= interval.factor_high


def test_unstable_is_either_cv_above_the_threshold() -> None:
    assert unstable_from_cv(None, None) is None
    assert unstable_from_cv(0.05, None) is False
    assert unstable_from_cv(0.05, 0.11) is True
    assert unstable_from_cv(0.2, 0.01) is True
    assert unstable_from_cv(None, 0.05, threshold=0.01) is True


def _request(index: int, start: float, end: float, tokens: int) -> RequestRecord:
    return RequestRecord(index, start, end, start + 0.01, [end], 10, tokens, tokens)


def test_an_endpoint_level_carries_its_interval_on_the_primary_unit() -> None:
    steady = [_request(i, i * 0.25, i * 0.25 + 1.0, 100) for i in range(120)]
    row = summarise_level(steady, "text")
    assert row["cost_factor_low"] <= 1.0 <= row["cost_factor_high"]
    assert row["cost_cv"] < 0.10 and row["unstable"] is False
    # Output tokens are the primary unit: wildly varying lengths make the cost uncertain.
    lengths = [1 if i % 2 else 2000 for i in range(12)]
    lumpy = [_request(i, i * 2.0, i * 2.0 + 1.0, n) for i, n in enumerate(lengths)]
    lumpy += [RequestRecord(99, 0.0, None, error="timeout")]
    row = summarise_level(lumpy, "text")
    assert row["cost_cv"] > 0.10 and row["unstable"] is True
    failed = [RequestRecord(0, 0.0, None, error="refused"), RequestRecord(1, 0.0, None, error="x")]
    assert endpoint_cost_columns(failed, "text", None) == {
        "cost_factor_low": None, "cost_factor_high": None, "cost_cv": None, "unstable": None,
    }  # fmt: skip
    assert endpoint_cost_columns(steady, "no-such-workload", 30.0)["cost_cv"] is None


def test_an_embedding_level_counts_its_input_tokens() -> None:
    records = [
        RequestRecord(i, i * 0.1, i * 0.1 + 0.2, None, [], 64 * (1 + i % 3), None, None)
        for i in range(100)
    ]
    row = summarise_level(records, "embedding")
    assert row["cost_cv"] is not None and 0.0 < row["cost_cv"] < 0.10


def test_a_real_in_process_row_has_its_cost_interval(tmp_path: Path) -> None:
    args = ["run", "--workload", "text", "--preset", "tiny", "--batch-sizes", "1",
            "--input-len", "8", "--output-len", "4", "--iterations", "6", "--warmup", "1",
            "--min-duration", "0", "--idle-seconds", "0", "--out", str(tmp_path), "--no-price"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    with open(run / "measurements.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    low, high, cv = (float(row[c]) for c in ("cost_factor_low", "cost_factor_high", "cost_cv"))
    assert 0.0 < low <= 1.0 <= high and cv >= 0.0
    with open(run / "iterations.csv", newline="") as fh:
        walls = [float(r["wall_s"]) for r in csv.DictReader(fh)]
    expected = median_cost_interval(walls)
    # the file keeps what the row computed from the same iteration times (to csv precision)
    assert (low, high) == pytest.approx((expected.factor_low, expected.factor_high), rel=1e-6)
    noisy = max(float(row["wall_s_cv"]), cv) > 0.10
    assert row["unstable"] == str(noisy)


def test_a_burst_resamples_service_times() -> None:
    """All requests sent at once: no steady stretch between starts, so the interval follows the
    spread of the requests' own service times (none: a point; some: an interval around 1)."""
    starts = np.zeros(64)
    same = window_cost_interval(starts, starts + 2.0, np.full(64, 100.0), 0.0, 2.0)
    assert same.factor_low == pytest.approx(1.0) and same.factor_high == pytest.approx(1.0)
    ends = np.random.default_rng(5).lognormal(np.log(2.0), 0.3, 64)
    spread = window_cost_interval(starts, ends, np.full(64, 100.0), 0.0, float(ends.max()))
    assert spread.factor_low is not None and spread.factor_high is not None
    assert spread.factor_low < 1.0 < spread.factor_high < 1.5
