"""Rate cards: the shipped ones validate, bad cards are refused with one clear line, user cards
override shipped entries, and NVML names map to the keys the cards use."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import BadInput
from harness.gpus import CPU_ONLY, GPU_KEYS, canonical_gpu
from harness.money import (
    PLANS,
    UNITS_BY_WORKLOAD,
    load_card_file,
    load_ratecards,
    market_prices,
)
from harness.money.ratecard import shipped_card_paths
from tests.cli_helpers import one_line_error
from tests.helpers_runs import ONE_BOX_CARD


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", shipped_card_paths(), ids=lambda p: p.name)
def test_every_shipped_card_validates(path: Path) -> None:
    result = CliRunner().invoke(main, ["ratecards", "validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")
    count = int(result.output.split()[1])
    assert count > 0


def test_shipped_cards_cover_every_gpu_family_and_cpu() -> None:
    cards = load_ratecards(include_user_dir=False)
    keys = set(cards.gpu_keys())
    for family in (
        "H100-SXM-80GB",
        "H200-SXM-141GB",
        "A100-SXM-40GB",
        "A100-SXM-80GB",
        "L40S",
        "L4",
        "A10G",
        "T4",
        CPU_ONLY,
    ):
        assert family in keys
    providers = {i.provider for i in cards.instances}
    assert {"aws", "gcp", "azure", "lambda", "self-hosted"} <= providers
    for instance in cards.instances:
        assert instance.currency == "USD" and instance.as_of and instance.source
        assert instance.gpu in (*GPU_KEYS, CPU_ONLY)
        assert all(p >= 0 for p in instance.prices_per_hour_usd.values())
        if instance.gpu == CPU_ONLY:
            assert instance.gpu_count == 0


def test_aws_p_family_carries_the_june_2025_caveat() -> None:
    cards = load_ratecards(include_user_dir=False)
    p_family = [i for i in cards.instances if i.provider == "aws" and i.name.startswith("p")]
    assert len(p_family) == 4
    assert all(i.caveat and "June 2025" in i.caveat for i in p_family)


def test_reference_prices_are_carried_exactly() -> None:
    cards = load_ratecards(include_user_dir=False)
    assert cards.find("aws:g5.xlarge").prices_per_hour_usd == {"on_demand": 1.006, "spot": 0.42}
    assert cards.find("aws:p5.48xlarge").prices_per_hour_usd["on_demand"] == 55.04  # after the June 2025 cut
    assert cards.find("lambda:gpu_1x_h100_sxm5").prices_per_hour_usd == {"on_demand": 3.29}
    assert cards.find("azure:Standard_NC40ads_H100_v5").gpu == "H100-NVL-94GB"
    # Nothing reserved is shipped: no sourced figure exists for it.
    assert not any("reserved_1y" in i.prices_per_hour_usd for i in cards.instances)


def test_self_hosted_price_per_hour_is_depreciation_plus_hosting() -> None:
    cards = load_ratecards(include_user_dir=False)
    server = cards.find("self-hosted:h100-sxm-8x-server")
    assert server.self_hosted is not None
    # 8 GPUs × $30,000 ÷ (4 years × 8760 h) = $6.849315/h, + $2.40 hosting = $9.249315/h
    assert server.prices_per_hour_usd["owned"] == pytest.approx(8 * 30000 / (4 * 8760) + 2.40)
    cpu = cards.find("self-hosted:cpu-server")
    # CPU-only: capital is per machine. $6,000 ÷ 35,040 h = $0.171233/h, + $0.05 hosting
    assert cpu.prices_per_hour_usd["owned"] == pytest.approx(6000 / (4 * 8760) + 0.05)


def test_market_prices_have_one_default_per_unit_with_source_and_date() -> None:
    defaults = market_prices(include_user_dir=False)
    keys = [p.key for p in defaults]
    assert len(keys) == len(set(keys))
    assert {
        "text.input_token",
        "text.output_token",
        "image.image",
        "asr.audio_minute",
        "tts.character",
        "embedding.token",
    } <= set(keys)
    everything = market_prices(include_user_dir=False, all_products=True)
    assert len(everything) > len(defaults)
    for price in everything:
        assert price.unit in UNITS_BY_WORKLOAD[price.workload]
        assert price.source and price.as_of
    by_key = {p.key: p for p in defaults}
    assert by_key["text.output_token"].price_per_unit_usd == pytest.approx(0.60 / 1e6)
    assert by_key["asr.audio_minute"].price_per_unit_usd == pytest.approx(0.006)


BAD_CARDS = {
    "missing field": (ONE_BOX_CARD.replace("    region: test-1\n", ""), "missing field 'region'"),
    "negative price": (ONE_BOX_CARD.replace("spot: 0.5", "spot: -0.5"), "must not be negative"),
    "non-numeric price": (ONE_BOX_CARD.replace("spot: 0.5", "spot: cheap"), "must be a number"),
    "unknown plan": (ONE_BOX_CARD.replace("spot: 0.5", "weekly: 0.5"), "unknown plan 'weekly'"),
    "unknown currency": (
        ONE_BOX_CARD.replace("currency: USD", "currency: DOGE"),
        "unknown currency 'DOGE'",
    ),
    "unknown gpu": (ONE_BOX_CARD.replace("gpu: L4", "gpu: RTX-9090"), "unknown gpu 'RTX-9090'"),
    "duplicate instance": (ONE_BOX_CARD + ONE_BOX_CARD.split("instances:\n")[1], "duplicate instance"),
    "missing as_of": (ONE_BOX_CARD.replace("as_of: 2026-10-01\n", ""), "missing field 'as_of'"),
    "gpu count for cpu": (ONE_BOX_CARD.replace("gpu: L4", "gpu: none"), "gpu_count must be 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_bad_card_is_refused_with_file_entry_and_reason(case: str, tmp_path: Path) -> None:
    text, reason = BAD_CARDS[case]
    path = write(tmp_path, "acme.yaml", text)
    with pytest.raises(BadInput) as err:
        load_card_file(path)
    assert str(path) in str(err.value) and reason in str(err.value)
    if case not in ("unknown currency", "missing as_of"):
        assert "box-1" in str(err.value)  # names the entry
    line = one_line_error(CliRunner().invoke(main, ["ratecards", "validate", str(path)]))
    assert reason in line
    # The same card handed to `price` is refused the same way before anything is priced.
    line = one_line_error(CliRunner().invoke(main, ["ratecards", "list", "--ratecard", str(path)]))
    assert reason in line


def test_unknown_gpu_error_lists_valid_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", ONE_BOX_CARD.replace("gpu: L4", "gpu: RTX-9090"))
    line = one_line_error(CliRunner().invoke(main, ["ratecards", "validate", str(path)]))
    assert "H100-SXM-80GB" in line and "none" in line


def test_not_yaml_and_missing_file_are_one_line_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "provider: [unclosed\n")
    line = one_line_error(CliRunner().invoke(main, ["ratecards", "validate", str(path)]))
    assert "not valid YAML" in line and str(path) in line
    line = one_line_error(
        CliRunner().invoke(main, ["ratecards", "validate", str(tmp_path / "nope.yaml")])
    )
    assert "no such rate card file" in line


def test_validate_counts_instances_and_market_prices(tmp_path: Path) -> None:
    path = write(tmp_path, "acme.yaml", ONE_BOX_CARD)
    result = CliRunner().invoke(main, ["ratecards", "validate", str(path)])
    assert result.exit_code == 0 and result.output.strip() == "ok: 1 instances"
    market = next(p for p in shipped_card_paths() if p.name == "market.yaml")
    result = CliRunner().invoke(main, ["ratecards", "validate", str(market)])
    assert result.exit_code == 0 and result.output.strip().endswith("prices")


def test_user_folder_and_ratecard_flag_override_shipped_entries(
    tmp_path: Path, isolated_user_env: Path
) -> None:
    folder = isolated_user_env / "ratecards"
    folder.mkdir()
    write(
        folder,
        "mine.yaml",
        ONE_BOX_CARD.replace("provider: acme", "provider: aws")
        .replace("name: box-1", "name: g5.xlarge")
        .replace("gpu: L4", "gpu: A10G"),
    )
    cards = load_ratecards()
    assert cards.find("aws:g5.xlarge").prices_per_hour_usd == {"on_demand": 1.0, "spot": 0.5}
    assert len([i for i in cards.instances if i.key == "aws:g5.xlarge"]) == 1
    assert (
        load_ratecards(include_user_dir=False)
        .find("aws:g5.xlarge")
        .prices_per_hour_usd["on_demand"]
        == 1.006
    )
    extra = write(
        tmp_path,
        "later.yaml",
        ONE_BOX_CARD.replace("provider: acme", "provider: aws")
        .replace("name: box-1", "name: g5.xlarge")
        .replace("gpu: L4", "gpu: A10G")
        .replace("on_demand: 1.0", "on_demand: 0.9"),
    )
    assert load_ratecards([extra]).find("aws:g5.xlarge").prices_per_hour_usd["on_demand"] == 0.9
    added = load_ratecards([write(tmp_path, "acme.yaml", ONE_BOX_CARD)])
    assert added.find("acme:box-1").gpu == "L4"


def test_ratecards_list_and_show(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["ratecards", "list"])
    assert result.exit_code == 0, result.output
    assert "aws:g5.xlarge" in result.output and "$1.006" in result.output
    assert "self-hosted:h100-sxm-8x-server" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 100
    result = CliRunner().invoke(main, ["ratecards", "show", "aws:p5.48xlarge"])
    assert (
        result.exit_code == 0
        and "June 2025" in result.output
        and "H100-SXM-80GB × 8" in result.output
    )
    result = CliRunner().invoke(main, ["ratecards", "show", "lambda"])
    assert result.exit_code == 0 and "gpu_1x_gh200" in result.output
    line = one_line_error(CliRunner().invoke(main, ["ratecards", "show", "nosuch"]))
    assert "no such provider" in line
    line = one_line_error(CliRunner().invoke(main, ["ratecards", "show", "aws:nosuch"]))
    assert "aws has no instance 'nosuch'" in line


NVML_NAMES = {
    "NVIDIA H100 80GB HBM3": "H100-SXM-80GB",
    "NVIDIA H100 PCIe": "H100-PCIE-80GB",
    "NVIDIA H100 NVL": "H100-NVL-94GB",
    "NVIDIA H200": "H200-SXM-141GB",
    "NVIDIA H200 NVL": "H200-NVL-141GB",
    "NVIDIA GH200 480GB": "GH200",
    "NVIDIA A100-SXM4-80GB": "A100-SXM-80GB",
    "NVIDIA A100-SXM4-40GB": "A100-SXM-40GB",
    "NVIDIA A100 80GB PCIe": "A100-PCIE-80GB",
    "NVIDIA A100-PCIE-40GB": "A100-PCIE-40GB",
    "NVIDIA L40S": "L40S",
    "NVIDIA L4": "L4",
    "NVIDIA A10G": "A10G",
    "NVIDIA A10": "A10",
    "Tesla T4": "T4",
    "NVIDIA RTX A6000": "RTX-A6000",
    "h100-sxm-80gb": "H100-SXM-80GB",
    "": CPU_ONLY,
}


@pytest.mark.parametrize("name", sorted(NVML_NAMES))
def test_nvml_names_map_to_canonical_keys(name: str) -> None:
    assert canonical_gpu(name) == NVML_NAMES[name]


@pytest.mark.parametrize("name", ["NVIDIA GeForce RTX 4090", "NVIDIA L40", "NVIDIA RTX 6000 Ada"])
def test_unknown_gpus_are_unknown_not_guessed(name: str) -> None:
    assert canonical_gpu(name) is None


def test_none_and_nan_are_cpu() -> None:
    assert canonical_gpu(None) == CPU_ONLY
    assert canonical_gpu(float("nan")) == CPU_ONLY


def test_plans_are_the_documented_four() -> None:
    assert PLANS == ("on_demand", "spot", "reserved_1y", "reserved_3y")


def test_public_api_resolves_and_gpu_lookup_stays_light() -> None:
    import subprocess
    import sys

    import harness.money as money

    for name in money.__all__:
        assert getattr(money, name) is not None
    code = "import sys\nfrom harness.money import load_ratecards\nfrom harness.gpus import canonical_gpu\nprint('pandas' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
