"""What every importer shares: the `Importer` interface, reading a result file, checking its
numbers and units, and the load level an importer hands back. No heavy imports: an import must
not pay for torch."""

from __future__ import annotations

import hashlib
import itertools
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


MAX_RESULT_FILE_BYTES = 512 << 20
"""The largest result file read whole: tools write kilobytes to a few hundred megabytes."""


def read_bytes(path: Path) -> bytes:
    """The file's bytes; BadInput naming the file when it cannot be read, is not a regular
    file (a FIFO would block, /dev/zero never ends) or is larger than MAX_RESULT_FILE_BYTES."""
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise BadInput(f"{path}: not a regular file")
        if path.is_file() and path.stat().st_size > MAX_RESULT_FILE_BYTES:
            raise BadInput(f"{path}: larger than {MAX_RESULT_FILE_BYTES >> 20} MiB")
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

    def only_document(self, documents: list[Any], holder: str) -> Mapping[str, Any]:
        """The one JSON document of a file that holds exactly one, as a mapping; `holder` says
        who holds one ("an AIPerf export")."""
        if len(documents) != 1:
            raise self.fail(f"{len(documents)} JSON documents ({holder} holds one)")
        return self.mapping(documents[0], "the file")

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


# -- what no benchmark file can hold: the bounds and cross-checks every importer's levels pass --

MAX_WINDOW_S = 30 * 24 * 3600.0
"""A benchmark longer than 30 days is a unit mistake or a tampered file."""
MAX_LATENCY_S = 24 * 3600.0
"""No request of a benchmark waits a day for its answer."""
MAX_REQUESTS = 1e10
MAX_TOKENS = 1e14
MAX_CONCURRENCY = 1_000_000
"""Requests in flight at once: far above any server, far below what breaks a whole number."""
MAX_GPUS_USED = 4096
"""GPUs one served model may use (`--gpus-used`): the largest clusters a rate card prices."""
RATE_AGREEMENT = 4.0
"""A file's own throughput × its duration may differ from its own count by at most this factor:
tools compute throughput over slightly different windows (AIPerf's excludes a ramp), but a
duration read in the wrong unit is off by 1000×."""

_COUNT_LIMITS = {"requests": MAX_REQUESTS, "error_count": MAX_REQUESTS,
                 "input_tokens": MAX_TOKENS, "output_tokens": MAX_TOKENS}  # fmt: skip
_RATE_PAIRS = (
    ("requests", "requests_per_s"),
    ("input_tokens", "input_tokens_per_s"),
    ("output_tokens", "output_tokens_per_s"),
)


def check_level(path: Path, level: Level, where: str) -> None:
    """BadInput in one line for a level no benchmark can have measured: absurd magnitudes,
    fractional request counts, an error share above 1, percentiles out of order, a first token
    after the whole answer, or counts its own duration and throughput contradict."""
    values = level.values

    def fail(message: str) -> BadInput:
        return BadInput(f"{path}: {where}: {message}")

    for name, limit in (("concurrency", MAX_CONCURRENCY), ("max_in_flight", MAX_CONCURRENCY)):
        value = getattr(level, name)
        if value is not None and not 1 <= value <= limit:
            raise fail(f"{name} {value:g} is not between 1 and {limit:,}")
    window = values.get("window_s")
    if window is not None and not 0 < window <= MAX_WINDOW_S:
        raise fail(f"duration {window:g} s is not above 0 and at most 30 days (a unit mistake?)")
    for name, limit in _COUNT_LIMITS.items():
        value = values.get(name)
        if value is None:
            continue
        if value > limit:
            raise fail(f"{name} {value:g} is more than any benchmark sends ({limit:g})")
        if name in ("requests", "error_count") and value != int(value):
            raise fail(f"{name} {value:g} is not a whole number of requests")
    rate = values.get("error_rate")
    if rate is not None and not 0 <= rate <= 1:
        raise fail(f"error rate {rate * 100:g} % is not between 0 and 100 %")
    for name in LATENCIES:
        known = [(q, values.get(f"{name}_s_p{q}")) for q in PERCENTILES]
        known = [(q, v) for q, v in known if v is not None]
        for q, value in known:
            if value > MAX_LATENCY_S:
                raise fail(f"{name} p{q} {value:g} s is more than a day (a unit mistake?)")
        for (qa, a), (qb, b) in itertools.pairwise(known):
            if a > b * (1 + 1e-9):
                raise fail(f"{name} p{qa} {a:g} s is above p{qb} {b:g} s")
    for q in PERCENTILES:
        first, whole = values.get(f"ttft_s_p{q}"), values.get(f"e2e_s_p{q}")
        if first is not None and whole is not None and first > whole * (1 + 1e-6):
            raise fail(
                f"time to first token p{q} {first:g} s is above the whole request's p{q} "
                f"{whole:g} s (latencies in different units?)"
            )
    if window:
        for count_name, rate_name in _RATE_PAIRS:
            count, per_second = values.get(count_name), values.get(rate_name)
            if not count or not per_second:
                continue
            implied = per_second * window
            if not 1 / RATE_AGREEMENT <= implied / count <= RATE_AGREEMENT:
                raise fail(
                    f"{rate_name} {per_second:g} × duration {window:g} s = {implied:g}, but the "
                    f"file counts {count:g} {count_name} (the duration or a rate in the wrong "
                    "unit?)"
                )


def level_name(level: Level, number: int, count: int) -> str:
    """How error lines name a level: its load, and its place when the file holds several."""
    if level.concurrency is not None:
        name = f"concurrency {level.concurrency:g}"
    elif level.request_rate is not None:
        name = f"rate {level.request_rate:g}/s"
    else:
        name = "unbounded rate"
    return f"level {number} ({name})" if count > 1 else name


def check_gpus_used(gpus_used: int) -> None:
    if not 1 <= gpus_used <= MAX_GPUS_USED:
        raise BadInput(f"--gpus-used must be between 1 and {MAX_GPUS_USED} (got {gpus_used})")


def per_s(count: float | None, window_s: float | None) -> float | None:
    """A count over the window, None when either is missing (never 0 for unknown)."""
    if count is None or not window_s:
        return None
    return count / window_s


def error_share(errors: int | None, successful: int | None) -> float | None:
    if errors is None or successful is None or errors + successful == 0:
        return None
    return errors / (errors + successful)
