"""A level where the load generator was the limit (`client_bound`) is flagged, and `compare
--slo` answers with it only when no other level meets the SLO."""

from __future__ import annotations

import json
from pathlib import Path

from tests.report_helpers import TEST_CARD_INSTANCES, write_run
from tests.test_frontier import _compare, card, endpoint_row  # noqa: F401 (fixture)


def _sweep(tmp_path: Path, bound_at_8: bool, bound_at_1: bool = False) -> Path:
    return write_run(
        tmp_path,
        "run-h100",
        [
            endpoint_row(1, 1_000, 0.1, 100.0, client_bound=bound_at_1),
            endpoint_row(8, 6_000, 0.4, 60.0, client_bound=bound_at_8, unstable=bound_at_8),
            endpoint_row(32, 16_000, 1.2, 30.0, client_bound=False),
        ],
        gpu_name="H100-SXM-80GB",
    )


def _choice(run: Path, card: Path) -> dict:  # noqa: F811
    result = _compare(
        run, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p99=0.5",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (answer,) = json.loads(result.stdout)["answers"]
    return answer["choice"]


def test_a_client_bound_level_is_not_the_answer_when_another_meets_the_slo(
    tmp_path: Path,
    card: Path,  # noqa: F811
) -> None:
    assert _choice(_sweep(tmp_path / "a", bound_at_8=False), card)["level"] == "concurrency 8"
    choice = _choice(_sweep(tmp_path / "b", bound_at_8=True), card)
    assert choice["level"] == "concurrency 1"
    assert choice["client_bound"] is False


def test_a_client_bound_level_is_the_answer_when_nothing_else_meets_it(
    tmp_path: Path,
    card: Path,  # noqa: F811
) -> None:
    run = _sweep(tmp_path, bound_at_8=True, bound_at_1=True)
    choice = _choice(run, card)
    assert choice["level"] == "concurrency 8" and choice["client_bound"] is True
    text = _compare(run, "--ratecard", card, *TEST_CARD_INSTANCES, "--slo", "ttft_p99=0.5")
    assert "client-bound" in text.output


def test_a_client_bound_row_is_flagged_and_its_note_says_why(tmp_path: Path, card: Path) -> None:  # noqa: F811
    from click.testing import CliRunner

    from harness.cli import main

    run = _sweep(tmp_path, bound_at_8=True)
    result = CliRunner().invoke(main, ["price", str(run), "-v", "--ratecard", str(card),
                                       *TEST_CARD_INSTANCES])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "8!" in result.output
    assert "client-bound: the load generator was the limit" in result.output
