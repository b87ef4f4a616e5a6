"""The GPU catalogue: every entry complete and consistent, and one new entry is all a GPU needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.analysis.roofline import ceiling_for
from harness.cli.options import gpu_key
from harness.errors import BadInput
from harness.gpus import catalogue as gpus
from harness.money.inputs import load_card_file
from harness.sweep.install import Install
from harness.sweep.plan import SweepEntry, build_task

B200 = {
    "nvml": [r"\bB200\b"],
    "nvml_examples": ["NVIDIA B200"],
    "skypilot": ["B200"],
    "instance_types": [],
    "memory_gib": 180,
    "max_power_w": 1000,
    "bf16_dense_tflops": 2250,
    "fp16_dense_tflops": 2250,
    "fp32_tflops": 75,
    "memory_bw_tb_per_s": 8.0,
    "unverified": ["fp32_tflops"],
}


def _shipped() -> dict:
    return yaml.safe_load(gpus.CATALOGUE_FILE.read_text())


def _with_entry(tmp_path: Path, key: str, entry: dict) -> Path:
    data = _shipped()
    data[key] = entry
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("key", sorted(gpus.CATALOGUE.gpus))
def test_every_entry_is_complete_and_consistent(key: str) -> None:
    entry = gpus.CATALOGUE.gpus[key]
    assert set(_shipped()[key]) == set(B200)  # every field written out, unknowns as null
    assert entry.nvml_examples and entry.skypilot
    for name in (*entry.nvml_examples, key, key.lower()):
        assert gpus.canonical_gpu(name) == key, name
    for field in entry.unverified:
        assert getattr(entry, field) is not None, f"{key}: {field} is unverified but empty"
    if entry.memory_bw_tb_per_s is not None:
        assert entry.bf16_dense_tflops or entry.fp16_dense_tflops
    if not entry.instance_types:  # the default form of its SkyPilot name maps back to itself
        mib = None if entry.memory_gib is None else int(entry.memory_gib * 1024)
        assert gpus.gpu_for_cloud_offer("aws", "x.large", entry.skypilot_name, mib) == key
    assert gpus.skypilot_accelerator(key) == entry.skypilot[0]


def test_every_shipped_card_names_a_catalogue_gpu() -> None:
    root = Path(gpus.__file__).parents[2] / "ratecards"
    for path in root.glob("*.yaml"):
        for instance in yaml.safe_load(path.read_text()).get("instances", []):
            assert gpus.is_gpu_key(instance["gpu"]), (path.name, instance["gpu"])


def test_a_new_gpu_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue = gpus.GpuCatalogue.load(_with_entry(tmp_path, "B200", B200))
    monkeypatch.setattr(gpus, "CATALOGUE", catalogue)
    assert gpus.canonical_gpu("NVIDIA B200") == "B200"
    assert gpu_key("b200") == "B200"
    assert gpus.gpu_for_cloud_offer("aws", "p6-b200.48xlarge", "B200", 184320) == "B200"
    assert gpus.max_power_w("B200") == 1000
    ceiling = ceiling_for("B200", "bf16", None)
    assert ceiling is not None and ceiling.flops_per_s == 2250e12 and ceiling.bytes_per_s == 8e12
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump({
        "provider": "neo", "currency": "USD", "as_of": "2026-12-01", "source": "quote",
        "instances": [{"name": "b200x8", "gpu": "B200", "gpu_count": 8, "vcpus": 224,
                       "memory_gib": 2048, "region": "us-east-1",
                       "prices_per_hour": {"on_demand": 60.0}}],
    }))
    assert load_card_file(card)[1][0].gpu == "B200"
    entry = SweepEntry("b", "neo:b200x8", "aws", "p6-b200.48xlarge", "B200", 8, "on_demand",
                       60.0, "b.yaml", "~/gpucost-results/b")
    task = build_task(entry, ["-w", "text"], spot=False, managed=False, bucket=None,
                      install=Install("gpucost"), plan_dir=tmp_path)
    assert task["resources"]["accelerators"] == {"B200": 8}


def test_without_the_entry_the_gpu_is_unknown() -> None:
    assert gpus.canonical_gpu("NVIDIA B200") is None
    with pytest.raises(BadInput, match="unknown GPU"):
        gpu_key("B200")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"memory_gib": -1}, "memory_gib must be a positive number or null"),
        ({"skypilot": []}, "needs at least one nvml pattern and one skypilot name"),
        ({"nvml": ["(unclosed"]}, "bad pattern"),
        ({"colour": "green"}, "unknown ['colour']"),
        ({"unverified": ["key"]}, "unverified names fields that are not figures"),
    ],
)
def test_a_broken_entry_is_one_line_naming_it(tmp_path: Path, change: dict, message: str) -> None:
    with pytest.raises(BadInput) as err:
        gpus.GpuCatalogue.load(_with_entry(tmp_path, "B200", {**B200, **change}))
    assert message in str(err.value) and "GPU 'B200'" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    entry = {k: v for k, v in B200.items() if k != "max_power_w"}
    with pytest.raises(BadInput, match=r"missing \['max_power_w'\]"):
        gpus.GpuCatalogue.load(_with_entry(tmp_path, "B200", entry))
