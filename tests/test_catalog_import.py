"""`gpucost ratecards import skypilot` on SkyPilot's real Lambda catalog and a GCP-shaped sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import BadInput
from harness.gpus import gpu_for_cloud_offer
from harness.money.catalog_import import import_cloud
from harness.money.inputs import load_card_file

CATALOG = Path(__file__).resolve().parents[2] / "shared" / "data" / "skypilot-catalog"
if not CATALOG.is_dir():
    CATALOG = Path("/work/shared/data/skypilot-catalog")
needs_catalog = pytest.mark.skipif(not CATALOG.is_dir(), reason="the SkyPilot catalog sample is absent")

# Shaped like SkyPilot's gcp/vms.csv (columns in fetch_gcp's order): host rows have an
# InstanceType and no accelerator, GPU rows the reverse, priced for their count.
GCP_SAMPLE = """\
InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice
a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-a,0.73948,0.2943
a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-b,0.73948,0.2950
a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-z,0.73948,0.2943
a2-highgpu-1g,12.0,85.0,,,,europe-west4,europe-west4-a,0.81,0.33
,,,A100,1.0,"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}",us-central1,us-central1-a,2.93391,1.1483
,,,A100,1.0,"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}",us-central1,us-central1-b,2.93391,1.1600
,,,A100,1.0,"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}",europe-west4,europe-west4-a,3.2,1.3
,,,T4,1.0,"{'Gpus': [{'MemoryInfo': {'SizeInMiB': 16384}}]}",us-central1,us-central1-a,0.35,0.14
n1-standard-4,4.0,15.0,,,,us-central1,us-central1-a,0.189999,0.04
"""


def _gcp_catalog(tmp_path: Path) -> Path:
    (tmp_path / "gcp").mkdir(parents=True)
    (tmp_path / "gcp" / "vms.csv").write_text(GCP_SAMPLE)
    return tmp_path


@needs_catalog
def test_lambda_catalog_prices_match_the_file_rows() -> None:
    result = import_cloud(CATALOG, "lambda", as_of="2026-12-01")
    card = {i["name"]: i for i in result.card["instances"]}
    text = (CATALOG / "lambda" / "vms.csv").read_text()
    # Rows of the file, read by hand: InstanceType,Accel,Count,vCPUs,MemoryGiB,Price,Region,...
    assert "gpu_1x_h100_pcie,H100,1.0,26.0,200.0,2.49,us-east-1," in text
    assert card["gpu_1x_h100_pcie"]["prices_per_hour"] == {"on_demand": 2.49}
    assert (card["gpu_1x_h100_pcie"]["gpu"], card["gpu_1x_h100_pcie"]["vcpus"]) == ("H100-PCIE-80GB", 26.0)
    assert "gpu_8x_a100_80gb_sxm4,A100-80GB,8.0,240.0,1800.0,14.32,us-east-1," in text
    eight = card["gpu_8x_a100_80gb_sxm4"]
    assert (eight["gpu"], eight["gpu_count"], eight["prices_per_hour"]["on_demand"]) == (
        "A100-SXM-80GB", 8, 14.32)
    assert "gpu_1x_gh200,GH200,1.0,64.0,432.0,1.49,us-east-1," in text
    assert card["gpu_1x_gh200"]["prices_per_hour"] == {"on_demand": 1.49}
    assert card["gpu_8x_h100_sxm5"]["gpu"] == "H100-SXM-80GB"
    assert card["gpu_8x_h100_sxm5"]["prices_per_hour"]["on_demand"] == 23.92
    assert card["gpu_1x_a6000"]["memory_gib"] == 100.0
    assert len(card) == 16
    # Lambda charges the same in every region: the card says the region choice it made.
    assert "same on-demand price in 17 regions" in card["gpu_1x_h100_pcie"]["caveat"]
    assert sorted(s.split(":")[0] for s in result.skipped) == ["gpu_1x_rtx6000", "gpu_8x_v100"]
    assert result.cpu_only_left_out == 1
    assert "lambda/vms.csv" in result.card["source"] and "2026-12-01" in result.card["source"]


@needs_catalog
def test_cli_writes_a_card_that_validates_and_lists_what_it_left_out(tmp_path: Path) -> None:
    out = tmp_path / "lambda.yaml"
    result = CliRunner().invoke(main, ["ratecards", "import", "skypilot", "--catalog-dir",
                                       str(CATALOG), "--region", "us-east-1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "not imported: gpu_8x_v100: GPU 'V100' has no gpucost key" in result.stderr
    card, instances = load_card_file(out)
    assert card.provider == "lambda" and len(instances) == 16
    assert {i.region for i in instances} == {"us-east-1"}
    check = CliRunner().invoke(main, ["ratecards", "validate", str(out)])
    assert check.output.strip() == "ok: 16 instances"
    cpu = CliRunner().invoke(main, ["ratecards", "import", "skypilot", "--catalog-dir",
                                    str(CATALOG), "--include-cpu", "-o", str(out)])
    assert cpu.exit_code == 0
    assert any(i.gpu == "none" and i.gpu_count == 0 for i in load_card_file(out)[1])


def test_gcp_host_and_gpu_rows_are_added_per_zone(tmp_path: Path) -> None:
    result = import_cloud(_gcp_catalog(tmp_path), "gcp", as_of="2026-12-01")
    (a2,) = result.card["instances"]
    assert a2["name"] == "a2-highgpu-1g" and a2["gpu"] == "A100-SXM-40GB"
    assert a2["region"] == "us-central1"  # cheaper than europe-west4 (0.81 + 3.2)
    assert a2["prices_per_hour"]["on_demand"] == pytest.approx(0.73948 + 2.93391)
    # zone a: 0.2943 + 1.1483; zone b: 0.2950 + 1.1600; zone z has a host but no GPU.
    assert a2["prices_per_hour"]["spot"] == pytest.approx(0.2943 + 1.1483)
    assert "spot 1.4426–1.455 by zone" in a2["caveat"]
    assert result.cpu_only_left_out == 1
    assert any(s.startswith("T4:1: GCP attaches it") for s in result.skipped)


def test_region_is_explicit_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    folder = _gcp_catalog(tmp_path)
    (a2,) = import_cloud(folder, "gcp", region="europe-west4", as_of="2026-12-01").card["instances"]
    assert a2["prices_per_hour"]["on_demand"] == pytest.approx(0.81 + 3.2)
    assert "region europe-west4 (chosen)" in a2["caveat"]
    with pytest.raises(BadInput, match="no instance could be imported"):
        import_cloud(folder, "gcp", region="mars-1")


def test_bad_catalogs_give_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(main, ["ratecards", "import", "skypilot", "--catalog-dir", str(tmp_path),
                                 "-o", str(tmp_path / "x.yaml")])
    assert empty.exit_code == 2 and "no <cloud>/vms.csv there" in empty.stderr
    (tmp_path / "aws").mkdir()
    (tmp_path / "aws" / "vms.csv").write_text("Name,Cost\nx,1\n")
    bad = runner.invoke(main, ["ratecards", "import", "skypilot", "--catalog-dir", str(tmp_path),
                               "--cloud", "aws", "-o", str(tmp_path / "x.yaml")])
    assert bad.exit_code == 2 and "missing columns: InstanceType" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    other = runner.invoke(main, ["ratecards", "import", "skypilot", "--catalog-dir", str(tmp_path),
                                 "--cloud", "azure", "-o", str(tmp_path / "x.yaml")])
    assert other.exit_code == 2 and "--cloud 'azure': no azure/vms.csv" in other.stderr
    date = runner.invoke(main, ["ratecards", "import", "skypilot", "--catalog-dir",
                                str(_gcp_catalog(tmp_path / "g")), "--as-of", "soon",
                                "-o", str(tmp_path / "x.yaml")])
    assert date.exit_code == 2 and "--as-of: as_of must be a date" in date.stderr


def test_several_clouds_go_to_one_file_each(tmp_path: Path) -> None:
    folder = _gcp_catalog(tmp_path / "cat")
    if CATALOG.is_dir():
        shutil.copytree(CATALOG / "lambda", folder / "lambda")
    out = tmp_path / "cards"
    result = CliRunner().invoke(main, ["ratecards", "import", "skypilot", "--catalog-dir",
                                       str(folder), "--as-of", "2026-12-01", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "gcp.yaml").is_file()
    assert load_card_file(out / "gcp.yaml")[0].as_of == "2026-12-01"


@pytest.mark.parametrize(
    ("cloud", "itype", "acc", "mib", "key"),
    [
        ("aws", "p5.48xlarge", "H100", 81920, "H100-SXM-80GB"),
        ("aws", "p4d.24xlarge", "A100", 40960, "A100-SXM-40GB"),
        ("aws", "p4de.24xlarge", "A100-80GB", 81920, "A100-SXM-80GB"),
        ("azure", "Standard_NC24ads_A100_v4", "A100-80GB", 81920, "A100-PCIE-80GB"),
        ("azure", "Standard_NC40ads_H100_v5", "H100", 95830, "H100-NVL-94GB"),
        ("azure", "Standard_ND96isr_H100_v5", "H100", 81920, "H100-SXM-80GB"),
        ("lambda", "gpu_8x_a100", "A100", 40960, "A100-SXM-40GB"),
        ("aws", "p3.2xlarge", "V100", 16384, None),
    ],
)
def test_gpu_names_map_by_instance_family(cloud, itype, acc, mib, key) -> None:
    assert gpu_for_cloud_offer(cloud, itype, acc, mib) == key
