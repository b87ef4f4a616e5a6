"""Rate cards from SkyPilot's catalog: `<cloud>/vms.csv` files turned into ordinary gpucost cards.

The catalog lists one row per instance type × region (× zone on AWS, GCP, Azure): InstanceType,
AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB, Price, SpotPrice, Region, AvailabilityZone,
GpuInfo. GCP prices its GPU machine types in two rows that must be added: the host VM (an
InstanceType, no accelerator) and the GPUs (no InstanceType; AcceleratorName and
AcceleratorCount, priced for that count) in the same zone — as SkyPilot's own
`gcp_catalog.list_accelerators` does. This module reads the files with the csv module: SkyPilot
itself is never imported here.

The file is read and reduced as whole columns (pandas): SkyPilot's AWS catalog has tens of
thousands of rows and a catalog of 300,000 types imports in seconds. A row whose numbers or names
cannot be true (an unreadable or implausible price, GPU count or GPU memory, a control character
in a name) is not imported and is listed with the reason, never dropped unsaid.
"""

from __future__ import annotations

import ast
import datetime as dt
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput
from harness.gpus import CPU_ONLY, gpu_entry, gpu_for_cloud_offer, gpu_keys
from harness.money.file_schemas import RateCard, as_of_text, validated
from harness.money.yamlfile import MAX_YAML_BYTES, YamlFile

if TYPE_CHECKING:
    import pandas as pd

CATALOG_SCHEMA_VERSION = "v8"
"""The schema folder SkyPilot 0.14 reads (`~/.sky/catalogs/v8/<cloud>/vms.csv`)."""

REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB",
                    "Price", "Region")
_TEXT_COLUMNS = ("InstanceType", "AcceleratorName", "Region", "AvailabilityZone")

PRICE_RANGE_USD = (0.001, 10_000.0)
"""An hourly price outside this is a broken row: no machine rents for less than a tenth of a cent
an hour, none for more than $10,000 (the largest 8-GPU instances cost under $100)."""
MAX_GPUS = 64
"""GPUs one instance type can hold (8 or 16 today; a rack-scale type is still far below)."""
MAX_GPU_MEMORY_MIB = 4 * 1024 * 1024
"""4 TiB per GPU: far above any GPU; GpuInfo above it is broken (1e999 read as infinite)."""
HOST_RANGE = (0.01, 1e6)
"""vCPUs or GiB of memory of one instance: below or above is a broken row. (The bounds also keep
every figure a card holds in plain decimal notation, which YAML reads back as a number.)"""

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


def available_clouds(catalog_dir: Path) -> dict[str, Path]:
    """Each cloud's folder under `catalog_dir`, by its lower-case name (`LAMBDA/` is lambda);
    BadInput when two folders are one cloud spelled twice."""
    if not catalog_dir.is_dir():
        return {}
    found: dict[str, Path] = {}
    for folder in sorted(catalog_dir.iterdir()):
        if not (folder / "vms.csv").is_file():
            continue
        cloud = folder.name.lower()
        if cloud in found:
            raise BadInput(
                f"--catalog-dir {catalog_dir}: {found[cloud].name}/ and {folder.name}/ are both "
                f"the {cloud} catalog; keep one"
            )
        found[cloud] = folder
    return found


_NUMBER_COLUMNS = ("Price", "SpotPrice", "AcceleratorCount", "vCPUs", "MemoryGiB")
_CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]")
"""Control characters but the line feed; a carriage return (CRLF files) sends the file down the
careful path too."""


def read_frame(path: Path) -> tuple[pd.DataFrame, bool]:
    """vms.csv with text columns as text (empty for none) and, when every cell of them reads as
    one, the number columns as numbers; and whether any cell may hold a control character.
    BadInput when the file cannot be read as a table."""
    import pandas as pd

    if not path.is_file():
        raise BadInput(f"{path}: no such SkyPilot catalog file")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror or err})") from None

    def parse(numbers: bool) -> pd.DataFrame:
        kinds: Any = {c: float for c in _NUMBER_COLUMNS} if numbers else str
        frame = pd.read_csv(io.BytesIO(data), dtype=kinds, keep_default_na=False,
                            na_values={c: [""] for c in _NUMBER_COLUMNS} if numbers else None,
                            encoding="utf-8", skipinitialspace=True)  # fmt: skip
        for column in frame.columns:
            if column not in _NUMBER_COLUMNS or not numbers:
                frame[column] = frame[column].astype(str)
        return frame

    try:
        try:
            frame = parse(numbers=True)  # a sound catalog: numbers parsed in C
        except ValueError:
            frame = parse(numbers=False)  # some cell is not a number: each one is checked
    except pd.errors.EmptyDataError:
        raise BadInput(f"{path}: empty file (not a SkyPilot vms.csv)") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadInput(f"{path}: cannot read ({reason})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise BadInput(f"{path}: not a SkyPilot vms.csv (missing columns: {', '.join(missing)})")
    if frame.empty:
        raise BadInput(f"{path}: a header and no rows (an empty SkyPilot vms.csv)")
    for column in ("AvailabilityZone", "GpuInfo"):
        if column not in frame.columns:
            frame[column] = ""
    if "SpotPrice" not in frame.columns:
        frame["SpotPrice"] = float("nan") if frame["Price"].dtype.kind == "f" else ""
    # A line break inside a cell makes fewer records than lines.
    suspect = bool(_CONTROL.search(data)) or data.count(b"\n") > len(frame) + 1
    return frame, suspect


def _gpu_memory_mib(info: str) -> float:
    """Per-GPU memory from GpuInfo, a Python-literal dict (SkyPilot reads it with ast too): NaN
    when absent or unreadable, inf when it names an impossible size. Asked once per distinct
    GpuInfo: a catalog repeats a handful of them over all its rows."""
    if not info.strip().startswith("{"):
        return math.nan
    try:
        size = float(ast.literal_eval(info)["Gpus"][0]["MemoryInfo"]["SizeInMiB"])
    except (ValueError, SyntaxError, KeyError, IndexError, TypeError, MemoryError,
            RecursionError, OverflowError):  # fmt: skip
        return math.nan
    return size if 1 <= size <= MAX_GPU_MEMORY_MIB else math.inf


def _numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A text column as numbers (NaN where empty) and where it holds text that is no finite
    number. Parsed whole; only cells that fail are looked at again with spaces stripped."""
    import numpy as np
    import pandas as pd

    if raw.dtype.kind == "f":  # read as numbers already: empty cells are NaN
        unreadable = pd.Series(False, index=raw.index)
        return raw.where(np.isfinite(raw)), unreadable | np.isinf(raw)
    value = pd.to_numeric(raw, errors="coerce")
    retry = value.isna() & (raw != "")
    if retry.any():
        value[retry] = pd.to_numeric(raw[retry].str.strip(), errors="coerce")
    given = (raw != "") if not retry.any() else (raw.str.strip() != "")
    unreadable = given & ~np.isfinite(value)
    return value.where(given & ~unreadable), unreadable


def _problems(frame: pd.DataFrame, suspect: bool) -> tuple[pd.DataFrame, pd.Series]:
    """Numbers parsed (NaN for empty), and per row the first reason it cannot be imported
    ("" for a sound row). Reasons are worded only for the rows they concern."""
    import numpy as np
    import pandas as pd

    numbers = pd.DataFrame(index=frame.index)
    reason = pd.Series("", index=frame.index, dtype=object)

    def flag(mask: pd.Series, words: Any) -> None:
        fresh = mask & (reason == "")
        if fresh.any():
            reason[fresh] = words if isinstance(words, str) else [words(i) for i in fresh[fresh].index]

    for column in _TEXT_COLUMNS if suspect else ():
        bad = frame[column].str.contains(r"[\x00-\x1f\x7f]", regex=True)
        flag(bad, f"a control character (newline, tab) in {column}")
    for column in ("Price", "SpotPrice", "AcceleratorCount", "vCPUs", "MemoryGiB"):
        raw = frame[column]
        numbers[column], unreadable = _numbers(raw)
        flag(unreadable, lambda i, c=column, r=raw: f"{c} {str(r[i])[:30]!r} is not a number")
    low, high = PRICE_RANGE_USD
    for column in ("Price", "SpotPrice"):
        value = numbers[column]
        flag(value.notna() & ((value < low) | (value > high)),
             lambda i, c=column, v=value: f"{c} {v[i]:g} is not an hourly price "
                                          f"(${low:g} to ${high:,.0f})")  # fmt: skip
    count = numbers["AcceleratorCount"]
    flag(count.notna() & ((count < 1) | (count > MAX_GPUS) | (count != count.round())),
         lambda i: f"AcceleratorCount {count[i]:g} is not 1 to {MAX_GPUS} GPUs")
    flag((frame["AcceleratorName"] != "") & count.isna(),
         "a GPU (AcceleratorName) with no AcceleratorCount")
    for column in ("vCPUs", "MemoryGiB"):
        value = numbers[column]
        flag(value.notna() & ((value < HOST_RANGE[0]) | (value > HOST_RANGE[1])),
             lambda i, c=column, v=value: f"{c} {v[i]:g} is not a plausible size")
    info = frame["GpuInfo"]
    memory = info.map({text: _gpu_memory_mib(text) for text in info.unique()}).astype(float)
    flag(np.isinf(memory), "GpuInfo names an impossible GPU memory size")
    numbers["gpu_mib"] = memory.where(np.isfinite(memory))
    return numbers, reason


def _listed(frame: pd.DataFrame, reason: pd.Series) -> list[str]:
    """One line per instance type (or GPU row) and reason: what was not imported, and where."""
    bad = reason != ""
    if not bad.any():
        return []
    rows = frame.loc[bad, ["InstanceType", "AcceleratorName"]].copy()
    rows["what"] = rows["InstanceType"].where(rows["InstanceType"] != "",
                                              "GPU row " + rows["AcceleratorName"])  # fmt: skip
    rows["what"] = rows["what"].map(lambda t: repr(t) if not t.isprintable() or not t else t)
    rows["why"] = reason[bad]
    rows["line"] = rows.index + 2  # the header is line 1
    lines = []
    for (what, why), group in rows.groupby(["what", "why"], sort=False):
        first = int(group["line"].iloc[0])
        more = f", {len(group)} rows" if len(group) > 1 else ""
        lines.append(f"{what}: {why} (line {first}{more})")
    return lines


def _zone_rows(frame: pd.DataFrame, numbers: pd.DataFrame, cloud: str) -> pd.DataFrame:
    """Priced machines per zone: instance, accelerator, count, vcpus, memory, region, zone,
    price, spot, gpu_mib. GCP host + GPU rows are added up here."""
    import pandas as pd

    table = pd.DataFrame({
        "instance": frame["InstanceType"], "accelerator": frame["AcceleratorName"],
        "count": numbers["AcceleratorCount"].fillna(0.0), "vcpus": numbers["vCPUs"],
        "memory": numbers["MemoryGiB"], "region": frame["Region"],
        "zone": frame["AvailabilityZone"], "price": numbers["Price"],
        "spot": numbers["SpotPrice"], "gpu_mib": numbers["gpu_mib"],
    })  # fmt: skip
    plain = table[table["instance"] != ""]
    if cloud != "gcp":
        return plain
    gpus = table[(table["instance"] == "") & (table["accelerator"] != "") & (table["count"] > 0)]
    machines = pd.DataFrame(
        [(name, acc, float(n)) for name, (acc, n) in _GCP_GPU_MACHINES.items()],
        columns=["instance", "machine_acc", "machine_count"],
    )
    hosts = plain.merge(machines, on="instance", how="left")
    built_in = hosts["machine_acc"].notna()
    joined = hosts[built_in].merge(
        gpus[["accelerator", "count", "region", "zone", "price", "spot", "gpu_mib"]].rename(
            columns={"accelerator": "machine_acc", "count": "machine_count", "price": "gpu_price",
                     "spot": "gpu_spot", "gpu_mib": "machine_mib"}),
        on=["machine_acc", "machine_count", "region", "zone"], how="inner",
    )  # fmt: skip
    # A host in a zone that does not offer its GPUs is not an offer there.
    joined["accelerator"] = joined["machine_acc"]
    joined["count"] = joined["machine_count"]
    joined["gpu_mib"] = joined["machine_mib"]
    joined["price"] = (joined["price"] + joined["gpu_price"]).round(6)
    joined["spot"] = (joined["spot"] + joined["gpu_spot"]).round(6)
    columns = list(table.columns)
    return pd.concat([hosts.loc[~built_in, columns], joined[columns]], ignore_index=True)


def _gcp_attachable(frame: pd.DataFrame, numbers: pd.DataFrame) -> list[str]:
    """GCP GPUs that attach to a host the user picks (n1 + T4, V100, ...): no instance type."""
    loose_rows = (frame["InstanceType"] == "") & (frame["AcceleratorName"] != "") & (
        numbers["AcceleratorCount"] > 0)
    pairs = {(name, int(count)) for name, count in zip(
        frame.loc[loose_rows, "AcceleratorName"], numbers.loc[loose_rows, "AcceleratorCount"],
        strict=True)}  # fmt: skip
    return [f"{name}:{count}: GCP attaches it to a host VM of your choice; no instance type to price"
            for name, count in sorted(pairs - set(_GCP_GPU_MACHINES.values()))]


def offers(zone_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per instance type × region, from the cheapest zone (SkyPilot's choice too): the
    first zone row's machine figures, the lowest on-demand and spot prices, and the spot range.
    Grouped on integer codes of the names: grouping hundreds of thousands of texts is slow."""
    import pandas as pd

    priced = zone_rows[zone_rows["price"].notna() | zone_rows["spot"].notna()]
    instance_code, _ = pd.factorize(priced["instance"])
    region_code, regions = pd.factorize(priced["region"])
    key = instance_code.astype("int64") * max(len(regions), 1) + region_code
    groups = priced.groupby(key, sort=False)
    first = groups[["instance", "region", "accelerator", "count", "vcpus", "memory",
                    "gpu_mib"]].first()  # fmt: skip
    result = first.assign(
        on_demand=groups["price"].min(),
        spot=groups["spot"].min(),
        spot_high=groups["spot"].max(),
        spot_kinds=groups["spot"].nunique(),
    )
    return result.reset_index(drop=True)


def _choose(offers_frame: pd.DataFrame, region: str | None) -> pd.DataFrame:
    """Per instance type the offer to price and how it was chosen (`how`): the cheapest
    on-demand price, ties and unpriced types to the first region by name."""
    import numpy as np
    import pandas as pd

    if region is not None:
        chosen = offers_frame[offers_frame["region"] == region].drop_duplicates("instance").copy()
        chosen["how"] = f"region {region} (chosen)"
        return chosen
    instance_code, _ = pd.factorize(offers_frame["instance"])
    region_rank = offers_frame["region"].rank(method="dense").to_numpy()
    price = offers_frame["on_demand"].fillna(np.inf).to_numpy()
    order = np.lexsort((region_rank, price, instance_code))
    frame = offers_frame.iloc[order]
    codes = instance_code[order]
    first = np.ones(len(codes), dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    by_type = pd.Series(codes)
    regions = by_type.map(by_type.value_counts()).to_numpy()
    kinds = frame.groupby(codes, sort=False)["on_demand"].transform("nunique").to_numpy()
    priced = frame.groupby(codes, sort=False)["on_demand"].transform("count").to_numpy() > 0
    chosen = frame[first]
    n, same = regions[first], ((regions > 1) & ((kinds == 1) | ~priced))[first]
    return chosen.assign(how=[
        f"same on-demand price in {count} regions; first by name shown" if alike
        else f"cheapest on-demand of {count} region(s)"
        for count, alike in zip(n, same, strict=True)
    ])  # fmt: skip


BYTES_PER_INSTANCE_MIN = 150
"""The fewest bytes one instance takes in a written card: enough to refuse a card that could not
be loaded before building it."""


def import_cloud(
    catalog_dir: Path,
    cloud: str,
    *,
    region: str | None = None,
    include_cpu: bool = False,
    as_of: str | None = None,
    folder: Path | None = None,
) -> ImportResult:
    """A validated card for one cloud of the catalog in `catalog_dir` (its files in `folder`,
    `catalog_dir / cloud` unless the folder is spelled otherwise)."""
    cloud = cloud.lower()
    path = (folder or catalog_dir / cloud) / "vms.csv"
    frame, suspect = read_frame(path)
    numbers, reason = _problems(frame, suspect)
    result = ImportResult(cloud=cloud, card={}, skipped=_listed(frame, reason))
    sound = reason == ""
    frame, numbers = frame[sound], numbers[sound]
    if cloud == "gcp":
        result.skipped.extend(_gcp_attachable(frame, numbers))
    offered = offers(_zone_rows(frame, numbers, cloud))
    unpriced = set(frame.loc[frame["InstanceType"] != "", "InstanceType"]) - set(offered["instance"])
    result.skipped.extend(
        f"{name}: no price in any row (Price and SpotPrice empty"
        + (", or its GPUs priced in none of its zones)" if cloud == "gcp" else ")")
        for name in sorted(unpriced)
    )
    chosen = _choose(offered, region)
    if region is not None:
        everywhere = set(frame.loc[frame["InstanceType"] != "", "InstanceType"])
        result.skipped.extend(f"{name}: not offered in region {region}"
                              for name in sorted(everywhere - set(chosen["instance"])))  # fmt: skip
    date = as_of_text(as_of, "--as-of") if as_of else dt.datetime.fromtimestamp(
        path.stat().st_mtime, dt.timezone.utc).date().isoformat()  # fmt: skip
    chosen = chosen.sort_values("instance", kind="stable")
    gpu_rows = (chosen["accelerator"] != "") & (chosen["count"] > 0)
    if include_cpu:
        result.cpu_only_left_out = 0
    else:
        result.cpu_only_left_out = int((~gpu_rows).sum())
        chosen, gpu_rows = chosen[gpu_rows], gpu_rows[gpu_rows]
    least = len(chosen) * BYTES_PER_INSTANCE_MIN
    if least > MAX_YAML_BYTES:
        raise BadInput(
            f"{path}: {len(chosen):,} instance types make a card of at least {least:,} bytes, "
            f"more than a rate card may hold ({MAX_YAML_BYTES:,}); nothing written "
            "(narrow it: one --cloud, or edit the catalog)"
        )
    keys = _gpu_keys(cloud, chosen[gpu_rows])
    no_key = gpu_rows & keys.reindex(chosen.index).isna()
    result.skipped.extend(f"{name}: GPU {acc!r} has no gpucost key" for name, acc in zip(
        chosen.loc[no_key, "instance"], chosen.loc[no_key, "accelerator"], strict=True))
    no_host = ~no_key & ~((chosen["vcpus"] > 0) & (chosen["memory"] > 0))
    result.skipped.extend(f"{name}: no vCPU or memory figure in the catalog"
                          for name in chosen.loc[no_host, "instance"])  # fmt: skip
    chosen = chosen[~no_key & ~no_host]
    instances = _instances(chosen, keys)
    if not instances:
        raise BadInput(f"{path}: no instance could be imported" + (
            f" (region {region!r}?)" if region else ""))
    result.card = {
        "provider": cloud,
        "currency": "USD",
        "as_of": dt.date.fromisoformat(date),
        "source": f"SkyPilot catalog {catalog_dir.name}/{path.parent.name}/vms.csv, dated {date}",
        "instances": instances,
    }
    size = len(render_card(result.card).encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise BadInput(
            f"{path}: {len(instances):,} instance types make a card of {size:,} bytes, more "
            f"than a rate card may hold ({MAX_YAML_BYTES:,}); nothing written"
        )
    # the card must pass the same checks a hand-written one does
    validated(RateCard, YamlFile(path, result.card, {})).build(str(path))
    return result


def _gpu_keys(cloud: str, offers_frame: pd.DataFrame) -> pd.Series:
    """gpucost's GPU key per offer (None where none fits). The catalogue tells form factors
    apart by regexes on `<cloud>:<instance type>` only, so offers with the same accelerator,
    GPU memory and matches of every such regex get the same key: it is asked once per group."""
    import pandas as pd

    if offers_frame.empty:
        return pd.Series(dtype=object)
    where = cloud + ":" + offers_frame["instance"].str.lower()
    patterns = sorted({p for k in gpu_keys() for p in gpu_entry(k).instance_types})
    signature = pd.DataFrame({
        "accelerator": offers_frame["accelerator"].str.upper(),
        "mib": offers_frame["gpu_mib"].fillna(-1.0),
        **{f"_form{i}": where.str.contains(p, regex=True) for i, p in enumerate(patterns)},
    })  # fmt: skip
    columns = list(signature.columns)
    groups = signature.groupby(columns, sort=False, dropna=False)
    keys = pd.Series(index=offers_frame.index, dtype=object)
    for _, index in groups.groups.items():
        first = offers_frame.loc[index[0]]
        mib = None if math.isnan(first["gpu_mib"]) else int(first["gpu_mib"])
        keys[index] = gpu_for_cloud_offer(cloud, first["instance"], first["accelerator"], mib)
    return keys


def _instances(chosen: pd.DataFrame, keys: pd.Series) -> list[dict[str, Any]]:
    """The card's instance entries, built as columns and turned into mappings once."""
    import numpy as np

    gpu = keys.reindex(chosen.index).where(chosen["count"] > 0, CPU_ONLY).fillna(CPU_ONLY)
    on_demand, spot = chosen["on_demand"], chosen["spot"]
    caveat = [
        f"{how}; spot {low:g}–{high:g} by zone (lowest shown)" if kinds > 1 else how
        for how, low, high, kinds in zip(chosen["how"], spot, chosen["spot_high"],
                                         chosen["spot_kinds"], strict=True)
    ]  # fmt: skip
    records = zip(
        chosen["instance"], gpu, chosen["count"].astype(int).where(gpu != CPU_ONLY, 0),
        chosen["vcpus"].astype(float), chosen["memory"].astype(float), chosen["region"],
        np.where(on_demand.notna(), on_demand, None), np.where(spot.notna(), spot, None),
        caveat, strict=True,
    )  # fmt: skip
    instances = []
    for name, key, count, vcpus, memory, region, demand, spot_usd, note in records:
        prices = {}
        if demand is not None:
            prices["on_demand"] = float(demand)
        if spot_usd is not None:
            prices["spot"] = float(spot_usd)
        instances.append({"name": name, "gpu": key, "gpu_count": int(count), "vcpus": vcpus,
                          "memory_gib": memory, "region": region, "prices_per_hour": prices,
                          "caveat": note})  # fmt: skip
    return instances


def render_card(card: dict[str, Any]) -> str:
    """The card as YAML: the file fields, then one instance per line as a JSON object (JSON is
    YAML's flow style). Written directly: PyYAML's emitter takes minutes on a catalog of 300,000
    types, this a second."""
    lines = [
        "# Imported by `gpucost ratecards import skypilot`; USD per instance-hour.",
        f"provider: {json.dumps(card['provider'])}",
        f"currency: {json.dumps(card['currency'])}",
        f"as_of: {card['as_of'].isoformat()}",
        f"source: {json.dumps(card['source'], ensure_ascii=False)}",
        "instances:",
    ]
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    lines.extend(f"  - {encode(instance)}" for instance in card["instances"])
    return "\n".join(lines) + "\n"
