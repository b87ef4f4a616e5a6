"""The numbers a replay hands to pricing: prefix reuse of a trace (worked out by hand) and the
cached-input price of the market file (blended by a measured hit rate; bad entries refused)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.money.prices import CandidatePrice, blended_input_price
from harness.traffic import TraceRequest, read_trace
from harness.traffic.reuse import prefix_reuse

REPO = Path(__file__).resolve().parent.parent


def test_prefix_reuse_by_hand() -> None:
    requests = [
        TraceRequest(0.0, 1000, 5, (1, 2)),  # nothing seen: 0
        TraceRequest(1.0, 1200, 5, (1, 2, 3)),  # blocks 1 and 2 seen, whole: 1024
        TraceRequest(2.0, 600, 5, (4, 2)),  # block 2 seen but not leading: 88 reused, 0 leading
        TraceRequest(3.0, 100, 5, None),  # no ids: counted in the total only
    ]
    reuse = prefix_reuse(requests, 512)
    assert reuse.input_tokens == 2900
    # a block counts what the request holds of it: block 2 is the last 88 of 600 tokens
    assert reuse.reused_tokens == 1024 + 88
    assert reuse.leading_reused_tokens == 1024
    assert reuse.reuse_share == pytest.approx(1112 / 2900)


def test_prefix_reuse_of_the_mooncake_slice_is_real() -> None:
    trace = read_trace(REPO / "tests" / "data" / "traces" / "mooncake_conv_head200.jsonl")
    reuse = prefix_reuse(trace, 512)
    assert reuse.requests == 200
    assert 0.05 < reuse.leading_reuse_share <= reuse.reuse_share < 0.95


def test_blended_input_price() -> None:
    price = CandidatePrice("text", "input_token", 0.15e-6, 1_000_000, "x", "", "", 0.075e-6)
    assert blended_input_price(price, 0.4) == pytest.approx(0.4 * 0.075e-6 + 0.6 * 0.15e-6)
    assert blended_input_price(price, None) is None
    assert blended_input_price(price, 1.5) is None
    assert blended_input_price(price, float("nan")) is None
    plain = CandidatePrice("text", "input_token", 0.15e-6)
    assert blended_input_price(plain, 0.4) is None


def _market(tmp_path: Path, old: str, new: str) -> Path:
    text = (REPO / "ratecards" / "market.yaml").read_text()
    assert old in text
    path = tmp_path / "market.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("cached_price: 0.075", "cached_price: 0.5", "cached_price is more than the input price"),
        ("cached_price: 0.075", "cached_price: -1", "cached_price"),
        ("default: true,\n     source: simonw/llm-prices data/openai.json, date: undated}",
         "default: true,\n     source: simonw/llm-prices data/openai.json, date: undated,"
         " cached_price: 0.1}", "cached_price is for input tokens, not text.output_token"),
    ],
)  # fmt: skip
def test_bad_cached_prices_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _market(tmp_path, old, new)
    result = CliRunner().invoke(main, ["ratecards", "validate", str(path)])
    assert result.exit_code == 2 and message in result.stderr
    assert "Traceback" not in result.output


def test_shipped_market_file_has_cached_prices() -> None:
    import yaml

    from harness.money.file_schemas import MarketFile

    path = REPO / "ratecards" / "market.yaml"
    result = CliRunner().invoke(main, ["ratecards", "validate", str(path)])
    assert result.exit_code == 0, result.output
    built = {
        p.label: p for p, _ in MarketFile(**yaml.safe_load(path.read_text())).build()
        if p.unit == "input_token"
    }  # fmt: skip
    assert built["GPT-4o-mini"].cached_price_per_unit_usd == pytest.approx(0.075e-6)
    assert built["GPT-4o"].cached_price_per_unit_usd == pytest.approx(1.25e-6)
