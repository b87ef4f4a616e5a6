"""Hostile SkyPilot catalogs: rows whose numbers or names cannot be true are listed with the
reason (never dropped unsaid), overflowing values are no traceback, cloud folders are one cloud
whatever their case, several clouds never go to one file, and a failed import writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import BadInput
from harness.money.catalog_import import import_cloud
from harness.money.inputs import load_card_file

HEADER = "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region,GpuInfo,SpotPrice\n"
INFO = "\"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 81559}}]}\""
GOOD = f"gpu_1x_h100_pcie,H100,1.0,26.0,200.0,2.49,us-east-1,{INFO},\n"


def _catalog(tmp_path: Path, *rows: str, cloud: str = "lambda") -> Path:
    folder = tmp_path / "catalog"
    (folder / cloud).mkdir(parents=True, exist_ok=True)
    (folder / cloud / "vms.csv").write_text(HEADER + GOOD + "".join(rows), encoding="utf-8")
    return folder


def _import(tmp_path: Path, *args: str):
    return CliRunner().invoke(main, ["ratecards", "import", "skypilot", "--as-of", "2026-12-01",
                                     *args])  # fmt: skip


BAD_ROWS = [
    ("price-text", "gpu_2x_h100_pcie,H100,2,52,400,abc,us-east-1,,\n", "Price 'abc' is not a number"),
    ("price-zero", "gpu_2x_h100_pcie,H100,2,52,400,0,us-east-1,,\n", "Price 0 is not an hourly price"),
    ("price-tiny", "gpu_2x_h100_pcie,H100,2,52,400,1e-300,us-east-1,,\n", "Price 1e-300 is not an hourly"),
    ("price-huge", "gpu_2x_h100_pcie,H100,2,52,400,1e999,us-east-1,,\n", "Price 'inf' is not a number"),
    ("price-nan", "gpu_2x_h100_pcie,H100,2,52,400,nan,us-east-1,,\n", "is not a number"),
    ("spot-negative", "gpu_2x_h100_pcie,H100,2,52,400,4.98,us-east-1,,-1\n", "SpotPrice -1 is not"),
    ("count-text", "gpu_2x_h100_pcie,H100,two,52,400,4.98,us-east-1,,\n", "AcceleratorCount 'two'"),
    ("count-1e9", "gpu_2x_h100_pcie,H100,1e9,52,400,4.98,us-east-1,,\n", "AcceleratorCount 1e+09 is not 1 to 64"),
    ("count-half", "gpu_2x_h100_pcie,H100,1.5,52,400,4.98,us-east-1,,\n", "AcceleratorCount 1.5"),
    ("no-price", "gpu_2x_h100_pcie,H100,2,52,400,,us-east-1,,\n", "no price in any row"),
    ("count-missing", "gpu_2x_h100_pcie,H100,,52,400,4.98,us-east-1,,\n", "with no AcceleratorCount"),
    ("vcpus-negative", "gpu_2x_h100_pcie,H100,2,-52,400,4.98,us-east-1,,\n", "vCPUs -52 is not a plausible"),
    ("vcpus-tiny", "gpu_2x_h100_pcie,H100,2,1e-300,400,4.98,us-east-1,,\n", "vCPUs 1e-300 is not a plausible"),
    ("memory-overflow", "gpu_2x_h100_pcie,H100,2,52,1e999,4.98,us-east-1,,\n", "MemoryGiB"),
    ("gpu-memory-overflow",
     "gpu_2x_h100_pcie,H100,2,52,400,4.98,us-east-1,\"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 1e999}}]}\",\n",
     "GpuInfo names an impossible GPU memory size"),
    ("newline-in-name", "\"gpu_2x\nh100\",H100,2,52,400,4.98,us-east-1,,\n", "a control character"),
    ("tab-in-region", "gpu_2x_h100_pcie,H100,2,52,400,4.98,\"us\teast\",,\n", "a control character"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "row", "needle"), BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_row_that_cannot_be_true_is_listed_not_imported(
    tmp_path: Path, name: str, row: str, needle: str
) -> None:
    out = tmp_path / "lambda.yaml"
    result = _import(tmp_path, "--catalog-dir", str(_catalog(tmp_path, row)), "-o", str(out))
    assert result.exit_code == 0, result.output
    listed = [line for line in result.stderr.splitlines() if "not imported" in line]
    # A row that cannot be true says its line; a type with no price at all has no one line.
    where = "" if name == "no-price" else "(line 3"
    assert any(needle in line and where in line for line in listed), result.stderr
    assert "Traceback" not in result.output
    _, instances = load_card_file(out)
    assert [i.name for i in instances] == ["gpu_1x_h100_pcie"]  # the sound row only


def test_a_catalog_with_only_broken_rows_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    (folder / "lambda").mkdir(parents=True)
    (folder / "lambda" / "vms.csv").write_text(
        HEADER + "gpu_1x_h100_pcie,H100,1,26,200,0,us-east-1,,\n", encoding="utf-8")
    out = tmp_path / "lambda.yaml"
    result = _import(tmp_path, "--catalog-dir", str(folder), "-o", str(out))
    assert result.exit_code == 2 and "no instance could be imported" in result.stderr
    assert not out.exists()


def test_cloud_folder_names_are_case_normalised(tmp_path: Path) -> None:
    folder = _catalog(tmp_path, cloud="LAMBDA")
    upper = import_cloud(folder, "LAMBDA", as_of="2026-12-01", folder=folder / "LAMBDA")
    assert upper.card["provider"] == "lambda"
    out = tmp_path / "cards"
    result = _import(tmp_path, "--catalog-dir", str(folder), "--cloud", "Lambda", "-o", str(out))
    assert result.exit_code == 0, result.output
    card, instances = load_card_file(out)
    assert card.provider == "lambda" and instances[0].gpu == "H100-PCIE-80GB"
    (folder / "lambda").mkdir()
    (folder / "lambda" / "vms.csv").write_text(HEADER + GOOD, encoding="utf-8")
    twice = _import(tmp_path, "--catalog-dir", str(folder), "-o", str(tmp_path / "x"))
    assert twice.exit_code == 2 and "are both the lambda catalog" in twice.stderr


def test_several_clouds_into_one_yaml_file_is_refused(tmp_path: Path) -> None:
    folder = _catalog(tmp_path)
    (folder / "aws").mkdir()
    (folder / "aws" / "vms.csv").write_text(HEADER + GOOD.replace("gpu_1x_h100_pcie", "p5.4xlarge"),
                                            encoding="utf-8")  # fmt: skip
    out = tmp_path / "x.yaml"
    result = _import(tmp_path, "--catalog-dir", str(folder), "--cloud", "lambda,aws",
                     "-o", str(out))  # fmt: skip
    assert result.exit_code == 2 and "make one card each; give a folder" in result.stderr
    assert not out.exists()


def test_a_failing_cloud_leaves_no_card_of_the_others(tmp_path: Path) -> None:
    folder = _catalog(tmp_path)
    (folder / "gcp").mkdir()
    (folder / "gcp" / "vms.csv").write_text("Name,Cost\nx,1\n", encoding="utf-8")
    out = tmp_path / "cards"
    result = _import(tmp_path, "--catalog-dir", str(folder), "--cloud", "lambda,gcp",
                     "-o", str(out))  # fmt: skip
    assert result.exit_code == 2 and "missing columns" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_card_too_large_to_load_is_refused_before_writing(tmp_path: Path) -> None:
    rows = "".join(f"gpu_1x_h100_pcie_{i},H100,1,26,200,2.49,us-east-1,,\n" for i in range(30000))
    out = tmp_path / "lambda.yaml"
    result = _import(tmp_path, "--catalog-dir", str(_catalog(tmp_path, rows)), "-o", str(out))
    assert result.exit_code == 2 and "more than a rate card may hold" in result.stderr
    assert not out.exists()


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    (folder / "lambda").mkdir(parents=True)
    for data in (b"", b"\xff\xfe\x00garbage", HEADER.encode() + b'"unterminated,H100\n',
                 HEADER.encode()):
        (folder / "lambda" / "vms.csv").write_bytes(data)
        with pytest.raises(BadInput):
            import_cloud(folder, "lambda", as_of="2026-12-01")
