"""Finding the files of a bill: a file, a folder or a glob of an export's partitions, a ZIP.

Every part becomes a `BillPart`: what DuckDB reads (CSV, CSV.gz or Parquet) and the name an
error gives it. ZIP members are extracted to a temporary folder first (DuckDB reads no ZIP), so
memory stays bounded by the query, not by the archive.
"""

from __future__ import annotations

import glob
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInput
from harness.reconcile.sql import text_literal

BILL_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".zip")


@dataclass(frozen=True)
class BillPart:
    path: Path  # the file DuckDB reads
    where: str  # as errors name it: the path, or archive.zip:member.csv
    kind: str  # "csv" or "parquet"

    def source_sql(self, extra: str = "") -> str:
        """The DuckDB table function that reads this part, every CSV cell as text."""
        literal = text_literal(str(self.path))
        if self.kind == "parquet":
            return f"read_parquet({literal}{extra})"
        return f"read_csv({literal}, all_varchar = true, header = true{extra})"

    def kind_name(self) -> str:
        return "gzip" if self.path.name.lower().endswith(".gz") else self.kind.upper()


def _kind(name: str) -> str | None:
    lower = name.lower()
    if lower.endswith((".csv", ".csv.gz", ".txt", ".txt.gz")):
        return "csv"
    if lower.endswith((".parquet", ".pq", ".snappy.parquet")):
        return "parquet"
    if lower.endswith(".zip"):
        return "zip"
    return None


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files named by each argument, in order: itself, a folder's bill files (recursively,
    sorted), or the matches of a glob. An argument that names nothing is an error."""
    found: list[Path] = []
    for path in paths:
        text = str(path)
        if any(ch in text for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                raise BadInput(f"bill {path}: the pattern matches no file")
            found += matches
        elif path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p.name))
            if not inside:
                raise BadInput(
                    f"bill {path}: the folder holds no bill file ({', '.join(BILL_SUFFIXES)})"
                )
            found += inside
        elif not path.exists():
            raise BadInput(f"bill {path} does not exist")
        elif not path.is_file():
            raise BadInput(f"bill {path} is not a file")
        else:
            found.append(path)
    return found


@contextmanager
def bill_parts(paths: Sequence[Path]) -> Iterator[list[BillPart]]:
    scratch: Path | None = None
    try:
        parts: list[BillPart] = []
        for path in expand(paths):
            kind = _kind(path.name) or _sniff(path)
            if kind != "zip":
                parts.append(BillPart(path, str(path), kind))
                continue
            if scratch is None:
                scratch = Path(tempfile.mkdtemp(prefix="gpucost-bill-"))
            parts += _unzip(path, scratch / str(len(parts)))
        yield parts
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        return "parquet"
    if magic[:2] == b"PK":
        return "zip"
    return "csv"


def _unzip(path: Path, into: Path) -> list[BillPart]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise BadInput(f"bill {path}: not a readable ZIP file ({err})") from None
    parts: list[BillPart] = []
    with archive:
        members = sorted(
            (
                m
                for m in archive.infolist()
                if not m.is_dir() and _kind(m.filename) not in (None, "zip")
            ),
            key=lambda m: m.filename,
        )
        if not members:
            raise BadInput(f"bill {path}: the ZIP file holds no CSV or Parquet file")
        into.mkdir(parents=True)
        for number, member in enumerate(members):
            target = into / f"{number}-{Path(member.filename).name}"
            try:
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except (zipfile.BadZipFile, OSError, EOFError) as err:
                raise BadInput(
                    f"bill {path}:{member.filename}: cannot be extracted ({err})"
                ) from None
            kind = _kind(member.filename) or "csv"
            parts.append(BillPart(target, f"{path}:{member.filename}", kind))
    return parts
