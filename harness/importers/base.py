"""What every importer shares: the `Importer` interface, reading a result file, checking its
numbers and units, and the load level an importer hands back. No heavy imports: an import must
not pay for torch."""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import BadInput

LATENCIES = ("ttft", "tpot", "itl", "e2e")
PERCENTILES = (50, 90, 99)

SECONDS_PER: dict[str, float] = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0}
"""Seconds in one of each time unit the tools write (AIPerf spells seconds "sec")."""


@dataclass(frozen=True)
class Level:
    """One load level of a result file, in gpucost's units (seconds, counts, shares).

    `values` holds the results columns the file measured (names from harness/results/schema.py);
    a column the file does not hold is left out, so it stays empty in measurements.csv."""

    concurrency: int | None
    request_rate: float | None
    max_in_flight: int | None
    values: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)
    """How the load was offered (the tool's own knobs): part of what makes two rows the same
    work, so nothing that differs from one run of the same load to the next belongs here."""
    provenance: dict[str, Any] = field(default_factory=dict)
    """Where the level came from in the file (its id, date, how a value was derived): run.json."""
    model: str | None = None
    note: str | None = None
    """Why the tool flagged this level (an incomplete run, errors), or None."""


@dataclass(frozen=True)
class ImportedFile:
    """A result file read whole: the tool and version that wrote it and its load levels."""

    path: Path
    sha256: str
    tool: str
    version: str | None
    schema_version: str | None
    levels: tuple[Level, ...]

    @property
    def engine(self) -> str:
        return f"{self.tool} {self.version}" if self.version else self.tool


class Importer(ABC):
    """Reads one benchmark tool's result files. Registered under its command-line name in the
    `gpucost.importers` entry-point group (built-ins in pyproject.toml, a third party in its own
    package) and offered as `gpucost import NAME`."""

    summary: ClassVar[str]
    """One line for `gpucost import --help`: which files it reads and what a load level is."""

    @abstractmethod
    def read(self, path: Path) -> ImportedFile:
        """The file read whole and checked (the tool's schema version included); BadInput in one
        line naming the file and what is wrong when it cannot be read faithfully."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    """The file's bytes; BadInput naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: a folder, not a result file") from None
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror or err})") from None


def json_documents(path: Path, data: bytes) -> list[Any]:
    """Every JSON document in the file, in order: one for most tools, one per line for files
    that a tool appends to (`vllm bench serve --append-result`). BadInput for anything else,
    a truncated file included."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInput(f"{path}: not a JSON result file (not UTF-8 text: {err.reason})") from None
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    position = _skip_space(text, 0)
    if position == len(text):
        raise BadInput(f"{path}: empty file (expected a JSON result file)")
    while position < len(text):
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as err:
            # A whole result document ends with its closing bracket; a cut-off one does not.
            body = text.strip()
            cut = body.startswith(("{", "[")) and (
                err.pos >= len(text.rstrip()) or not body.endswith(("}", "]"))
            )
            what = "truncated" if cut else "not valid JSON"
            raise BadInput(
                f"{path}: {what} (line {err.lineno}, column {err.colno}: {err.msg})"
            ) from None
        except RecursionError:
            raise BadInput(f"{path}: not valid JSON (nested too deeply)") from None
        documents.append(document)
        position = _skip_space(text, position)
    return documents


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


class Reader:
    """Typed look-ups in one file's JSON that fail in one line naming the file and the key."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what

    def fail(self, message: str) -> BadInput:
        return BadInput(f"{self.path}: {message}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{where} is not a mapping (not a {self.what})")
        return value

    def sequence(self, value: Any, where: str) -> Sequence[Any]:
        if not isinstance(value, list):
            raise self.fail(f"{where} is not a list (not a {self.what})")
        return value

    def number(self, value: Any, where: str) -> float | None:
        """A finite number >= 0, or None for a JSON null."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{where} is {_shown(value)}, not a number")
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise self.fail(f"{where} is {number:g}, not a finite number >= 0")
        return number

    def text(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{where} is {_shown(value)}, not a text")
        return value

    def whole(self, value: Any, where: str) -> int | None:
        number = self.number(value, where)
        if number is None:
            return None
        if number != int(number):
            raise self.fail(f"{where} is {number:g}, not a whole number")
        return int(number)

    def seconds(self, value: Any, unit: str, where: str) -> float | None:
        """`value` in `unit` turned into seconds; BadInput for a unit no tool writes."""
        factor = SECONDS_PER.get(unit)
        if factor is None:
            raise self.fail(
                f"{where} is in {unit!r}, not a time unit this reads ({', '.join(SECONDS_PER)})"
            )
        number = self.number(value, where)
        return None if number is None else number * factor


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def per_s(count: float | None, window_s: float | None) -> float | None:
    """A count over the window, None when either is missing (never 0 for unknown)."""
    if count is None or not window_s:
        return None
    return count / window_s


def error_share(errors: int | None, successful: int | None) -> float | None:
    if errors is None or successful is None or errors + successful == 0:
        return None
    return errors / (errors + successful)
