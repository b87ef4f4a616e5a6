"""The cost engine builds its cross join in blocks of rows: any block size gives the same frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import harness.money.cost as cost
from harness.money import unit_costs
from harness.money.context import PricingContext
from harness.results.runs import load_run, measurements_frame
from tests.helpers_runs import card_instances, image_row, text_row, write_run


def _measurements(tmp_path: Path) -> pd.DataFrame:
    # Rows out of order, and two presets tying on run × workload × batch size.
    rows = [
        text_row(8, 2.0, preset="zeta", model="zeta"),
        image_row(4, 1.0),
        text_row(2, 0.5),
        text_row(8, 1.5, preset="alpha", model="alpha", prefill_s=None, decode_s=None),
        image_row(1, 0.3),
        text_row(4, 1.0, window_s=30.0, gpus_used=2),
    ]
    return measurements_frame([load_run(write_run(tmp_path / "runs", rows))])


@pytest.mark.parametrize("block", [1, 7, 50])
def test_any_block_size_gives_the_same_frame(tmp_path: Path, monkeypatch, block: int) -> None:
    measurements = _measurements(tmp_path)
    instances = card_instances(tmp_path / "cards")
    us = (0.5, 1.0)
    whole = unit_costs(measurements, PricingContext(instances, None, us))
    monkeypatch.setattr(cost, "BLOCK_COMBINATIONS", block)
    blocked = unit_costs(measurements, PricingContext(instances, None, us))
    pd.testing.assert_frame_equal(blocked, whole, check_exact=True)


def test_rows_tying_on_the_sort_keys_keep_their_order(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cost, "BLOCK_COMBINATIONS", 1)
    costs = unit_costs(_measurements(tmp_path), PricingContext(card_instances(tmp_path / "cards")))
    keys = ["run_id", "workload", "batch_size"]
    assert costs[keys].equals(costs[keys].sort_values(keys, kind="stable"))
    tied = costs[(costs["workload"] == "text") & (costs["batch_size"] == 8)]
    first = tied.drop_duplicates(["unit", "provider", "instance", "plan", "utilization"])
    # Within each unit × instance × plan × utilisation, the row measured first comes first.
    assert set(first["preset"]) == {"zeta"}
    assert len(tied) == 2 * len(first)
