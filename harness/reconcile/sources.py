"""Opening input files for streaming: plain or gzip text, with the raw byte position for progress."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from harness.errors import BadInput

ProgressFn = Callable[[int], None]
"""Called with the number of raw bytes read since the last call (drives a progress bar)."""


@dataclass(frozen=True)
class TagFilter:
    """`--tag KEY=VALUE`: keep bill rows whose resource tag KEY has exactly VALUE."""

    key: str
    value: str

    @classmethod
    def parse(cls, text: str) -> TagFilter:
        key, sep, value = text.partition("=")
        if not sep or not key.strip() or not value:
            raise BadInput(f"--tag must be KEY=VALUE, e.g. Project=Demo (got {text!r})")
        return cls(key.strip(), value)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


def require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise BadInput(f"{what} {path} does not exist")
    if not path.is_file():
        raise BadInput(f"{what} {path} is not a file")


class _ByteCounter:
    """Reports how far the raw file has been read, in steps, without wrapping every read."""

    def __init__(self, raw: IO[bytes], progress: ProgressFn | None) -> None:
        self._raw = raw
        self._progress = progress
        self._reported = 0

    def update(self) -> None:
        if self._progress is None:
            return
        position = self._raw.tell()
        if position > self._reported:
            self._progress(position - self._reported)
            self._reported = position


GZIP_ERRORS: tuple[type[Exception], ...] = (EOFError, gzip.BadGzipFile, zlib.error, OSError)
"""What reading a corrupt or truncated gzip stream raises (EOFError would read as an abort)."""


@contextmanager
def open_text(
    path: Path, what: str, progress: ProgressFn | None = None
) -> Iterator[tuple[IO[str], _ByteCounter]]:
    """Open `path` (gzip when it ends in .gz) as UTF-8 text; the counter reports raw bytes read.
    A gzip file that cannot be read to its end raises BadInput naming `what` ("bill") and path."""
    with open(path, "rb") as raw:
        counter = _ByteCounter(raw, progress)
        if path.suffix == ".gz":
            try:
                with gzip.open(raw, "rb") as unzipped:
                    yield io.TextIOWrapper(unzipped, encoding="utf-8", newline=""), counter
            except GZIP_ERRORS as err:
                raise BadInput(f"{what} {path}: not a readable gzip file ({err})") from None
        else:
            yield io.TextIOWrapper(raw, encoding="utf-8", newline=""), counter
        counter.update()


def first_lines(numbers: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    return shown + (", ..." if len(numbers) > limit else "")
