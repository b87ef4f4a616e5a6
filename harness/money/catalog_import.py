"""Rate cards from SkyPilot's catalog: `<cloud>/vms.csv` files turned into ordinary gpucost cards.

The catalog lists one row per instance type × region (× zone on AWS, GCP, Azure): InstanceType,
AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB, Price, SpotPrice, Region, AvailabilityZone,
GpuInfo. GCP prices its GPU machine types in two rows that must be added: the host VM (an
InstanceType, no accelerator) and the GPUs (no InstanceType; AcceleratorName and
AcceleratorCount, priced for that count) in the same zone — as SkyPilot's own
`gcp_catalog.list_accelerators` does. This module reads the files with the csv module: SkyPilot
itself is never imported here.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.gpus import CPU_ONLY, gpu_for_cloud_offer
from harness.money.file_schemas import RateCard, as_of_text, validated
from harness.money.yamlfile import YamlFile

CATALOG_SCHEMA_VERSION = "v8"
"""The schema folder SkyPilot 0.14 reads (`~/.sky/catalogs/v8/<cloud>/vms.csv`)."""

REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB",
                    "Price", "Region")

# GCP machine types with GPUs built in, and which accelerator row prices their GPUs
# (SkyPilot's gcp_catalog._ACC_INSTANCE_TYPE_DICTS, read the other way round).
_GCP_GPU_MACHINES: dict[str, tuple[str, int]] = {
    **{f"a2-highgpu-{n}g": ("A100", n) for n in (1, 2, 4, 8)},
    "a2-megagpu-16g": ("A100", 16),
    **{f"a2-ultragpu-{n}g": ("A100-80GB", n) for n in (1, 2, 4, 8)},
    **{f"g2-standard-{n}": ("L4", 1) for n in (4, 8, 12, 16, 32)},
    "g2-standard-24": ("L4", 2),
    "g2-standard-48": ("L4", 4),
    "g2-standard-96": ("L4", 8),
    **{f"a3-highgpu-{n}g": ("H100", n) for n in (1, 2, 4, 8)},
    "a3-megagpu-8g": ("H100-MEGA", 8),
    "a3-ultragpu-8g": ("H200", 8),
    "a4-highgpu-8g": ("B200", 8),
}


@dataclass(frozen=True)
class Offer:
    """One instance type in one region: the cheapest zone's prices (SkyPilot's choice too)."""

    instance_type: str
    accelerator: str | None
    accelerator_count: int
    vcpus: float
    memory_gib: float
    region: str
    on_demand_usd: float | None
    spot_usd: float | None
    spot_range_usd: tuple[float, float] | None
    gpu_memory_mib: int | None


@dataclass
class ImportResult:
    """A card (as the mapping a YAML file holds) and what was left out, with the reason."""

    cloud: str
    card: dict[str, Any]
    skipped: list[str] = field(default_factory=list)
    cpu_only_left_out: int = 0


def default_catalog_dir() -> Path:
    """Where SkyPilot caches its catalogs: `$SKY_RUNTIME_DIR` (else home)/.sky/catalogs/v8."""
    root = Path(os.environ.get("SKY_RUNTIME_DIR") or Path.home())
    return root / ".sky" / "catalogs" / CATALOG_SCHEMA_VERSION


def available_clouds(catalog_dir: Path) -> list[str]:
    if not catalog_dir.is_dir():
        return []
    return sorted(p.name for p in catalog_dir.iterdir() if (p / "vms.csv").is_file())


def _number(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _gpu_memory_mib(info: str | None) -> int | None:
    """Per-GPU memory from GpuInfo, a Python-literal dict (SkyPilot reads it with ast too)."""
    if not info or not info.strip().startswith("{"):
        return None
    try:
        data = ast.literal_eval(info)
        return int(data["Gpus"][0]["MemoryInfo"]["SizeInMiB"])
    except (ValueError, SyntaxError, KeyError, IndexError, TypeError):
        return None


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise BadInput(f"{path}: no such SkyPilot catalog file")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise BadInput(f"{path}: not a SkyPilot vms.csv (missing columns: {', '.join(missing)})")
            return list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise BadInput(f"{path}: cannot read ({err})") from None


def _zone_rows(rows: Iterable[dict[str, str]], cloud: str) -> list[dict[str, Any]]:
    """Rows as priced machines per zone; GCP host + GPU rows are added up here."""
    plain = [r for r in rows if (r.get("InstanceType") or "").strip()]
    if cloud != "gcp":
        return [_row(r) for r in plain]
    gpus = {
        (r["AcceleratorName"], int(float(r["AcceleratorCount"])), r["Region"],
         r.get("AvailabilityZone", "")): r
        for r in rows
        if not (r.get("InstanceType") or "").strip()
        and (r.get("AcceleratorName") or "").strip()
        and _number(r.get("AcceleratorCount"))
    }
    out = []
    for r in plain:
        machine = _GCP_GPU_MACHINES.get(r["InstanceType"])
        row = _row(r)
        if machine is not None:
            gpu = gpus.get((*machine, r["Region"], r.get("AvailabilityZone", "")))
            if gpu is None:
                continue  # the host exists in this zone but its GPUs are not offered there
            row["accelerator"], row["count"] = machine
            row["gpu_mib"] = _gpu_memory_mib(gpu.get("GpuInfo"))
            row["price"] = _add(row["price"], _number(gpu.get("Price")))
            row["spot"] = _add(row["spot"], _number(gpu.get("SpotPrice")))
        out.append(row)
    return out


def _gcp_attachable(rows: Iterable[dict[str, str]]) -> list[str]:
    """GCP GPUs that attach to a host the user picks (n1 + T4, V100, ...): no instance type."""
    built_in = set(_GCP_GPU_MACHINES.values())
    loose = sorted({
        (r["AcceleratorName"], int(float(r["AcceleratorCount"])))
        for r in rows
        if not (r.get("InstanceType") or "").strip() and (r.get("AcceleratorName") or "").strip()
        and _number(r.get("AcceleratorCount"))
    } - built_in)
    return [f"{name}:{count}: GCP attaches it to a host VM of your choice; no instance type to price"
            for name, count in loose]


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a + b, 6)


def _row(r: dict[str, str]) -> dict[str, Any]:
    count = _number(r.get("AcceleratorCount"))
    return {
        "instance": r["InstanceType"].strip(),
        "accelerator": (r.get("AcceleratorName") or "").strip() or None,
        "count": int(count) if count else 0,
        "vcpus": _number(r.get("vCPUs")),
        "memory": _number(r.get("MemoryGiB")),
        "region": (r.get("Region") or "").strip(),
        "price": _number(r.get("Price")),
        "spot": _number(r.get("SpotPrice")),
        "gpu_mib": _gpu_memory_mib(r.get("GpuInfo")),
    }


def offers(rows: Sequence[dict[str, str]], cloud: str) -> list[Offer]:
    """One Offer per instance type × region, from the cheapest zone."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in _zone_rows(rows, cloud):
        if row["price"] is None and row["spot"] is None:
            continue
        grouped.setdefault((row["instance"], row["region"]), []).append(row)
    result = []
    for (instance, region), zone_rows in grouped.items():
        first = zone_rows[0]
        prices = [r["price"] for r in zone_rows if r["price"] is not None]
        spots = [r["spot"] for r in zone_rows if r["spot"] is not None]
        result.append(
            Offer(
                instance_type=instance,
                accelerator=first["accelerator"],
                accelerator_count=first["count"],
                vcpus=first["vcpus"] or 0.0,
                memory_gib=first["memory"] or 0.0,
                region=region,
                on_demand_usd=min(prices) if prices else None,
                spot_usd=min(spots) if spots else None,
                spot_range_usd=(min(spots), max(spots)) if len(set(spots)) > 1 else None,
                gpu_memory_mib=first["gpu_mib"],
            )
        )
    return result


def _choose(region_offers: list[Offer], region: str | None) -> tuple[Offer, str] | None:
    if region is not None:
        for offer in region_offers:
            if offer.region == region:
                return offer, f"region {region} (chosen)"
        return None
    priced = [o for o in region_offers if o.on_demand_usd is not None] or region_offers
    best = min(priced, key=lambda o: (o.on_demand_usd or math.inf, o.region))
    if len(region_offers) > 1 and len({o.on_demand_usd for o in priced}) == 1:
        return best, f"same on-demand price in {len(region_offers)} regions; first by name shown"
    return best, f"cheapest on-demand of {len(region_offers)} region(s)"


def import_cloud(
    catalog_dir: Path,
    cloud: str,
    *,
    region: str | None = None,
    include_cpu: bool = False,
    as_of: str | None = None,
) -> ImportResult:
    """A validated card for one cloud of the catalog in `catalog_dir`."""
    path = catalog_dir / cloud / "vms.csv"
    rows = read_rows(path)
    by_type: dict[str, list[Offer]] = {}
    for offer in offers(rows, cloud):
        by_type.setdefault(offer.instance_type, []).append(offer)
    result_skips = _gcp_attachable(rows) if cloud == "gcp" else []
    date = as_of_text(as_of, "--as-of") if as_of else dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).date().isoformat()
    result = ImportResult(cloud=cloud, card={}, skipped=result_skips)
    instances: list[dict[str, Any]] = []
    for instance_type in sorted(by_type):
        chosen = _choose(by_type[instance_type], region)
        if chosen is None:
            result.skipped.append(f"{instance_type}: not offered in region {region}")
            continue
        offer, how = chosen
        if offer.accelerator is None or offer.accelerator_count == 0:
            if not include_cpu:
                result.cpu_only_left_out += 1
                continue
            gpu, count = CPU_ONLY, 0
        else:
            key = gpu_for_cloud_offer(cloud, instance_type, offer.accelerator,
                                      offer.gpu_memory_mib)
            if key is None:
                result.skipped.append(f"{instance_type}: GPU {offer.accelerator!r} has no gpucost key")
                continue
            gpu, count = key, offer.accelerator_count
        prices = {}
        if offer.on_demand_usd is not None:
            prices["on_demand"] = offer.on_demand_usd
        if offer.spot_usd is not None:
            prices["spot"] = offer.spot_usd
        if offer.vcpus <= 0 or offer.memory_gib <= 0:
            result.skipped.append(f"{instance_type}: no vCPU or memory figure in the catalog")
            continue
        caveat = how
        if offer.spot_range_usd is not None:
            low, high = offer.spot_range_usd
            caveat += f"; spot {low}–{high} by zone (lowest shown)"
        instances.append({
            "name": instance_type,
            "gpu": gpu,
            "gpu_count": count,
            "vcpus": offer.vcpus,
            "memory_gib": offer.memory_gib,
            "region": offer.region,
            "prices_per_hour": prices,
            "caveat": caveat,
        })
    if not instances:
        raise BadInput(f"{path}: no instance could be imported" + (
            f" (region {region!r}?)" if region else ""))
    result.card = {
        "provider": cloud,
        "currency": "USD",
        "as_of": dt.date.fromisoformat(date),
        "source": f"SkyPilot catalog {catalog_dir.name}/{cloud}/vms.csv, dated {date}",
        "instances": instances,
    }
    # the card must pass the same checks a hand-written one does
    validated(RateCard, YamlFile(path, result.card, {})).build(str(path))
    return result


def render_card(card: dict[str, Any]) -> str:
    import yaml

    header = "# Imported by `gpucost ratecards import skypilot`; USD per instance-hour.\n"
    return header + yaml.safe_dump(card, sort_keys=False, allow_unicode=True, width=100)
