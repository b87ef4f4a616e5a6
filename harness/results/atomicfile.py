"""Replace a file whole: write a temp file beside it, then rename, so nobody reads half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def replace_file(path: Path, write: Callable[[IO[Any]], None], *, binary: bool = False) -> None:
    """Call `write(fh)` on a temp file in `path`'s folder, sync it, and rename it over `path`.

    OSError propagates (callers turn it into the project's errors); the temp file never stays.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes a private file; the result should have the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        mode = "wb" if binary else "w"
        encoding = None if binary else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if binary else "") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(path: Path, data: bytes) -> None:
    replace_file(path, lambda fh: fh.write(data), binary=True)


def write_text(path: Path, text: str) -> None:
    replace_file(path, lambda fh: fh.write(text))
