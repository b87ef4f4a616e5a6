"""A row that served no units has an empty cost per unit, not an infinite one."""

from __future__ import annotations

from pathlib import Path

# -- cost -----------------------------------------------------------------------------------------


def test_a_zero_unit_count_gives_an_empty_cost_not_infinity(tmp_path: Path) -> None:
    from harness.money import unit_costs
    from harness.money.context import PricingContext
    from harness.results.runs import load_run, measurements_frame
    from tests.helpers_runs import card_instances, row, write_run

    frame = measurements_frame(
        [load_run(write_run(tmp_path / "r", [row("image", 8, 2.0, images=0, requests=8)]))]
    )
    costs = unit_costs(frame, PricingContext(card_instances(tmp_path / "c"), plans=["on_demand"]))
    image = costs[(costs["unit"] == "image") & (costs["instance"] == "one")]
    assert image["cost_per_unit_usd"].isna().all()
    assert len(image) == 1
