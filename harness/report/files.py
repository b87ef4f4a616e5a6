"""Writing a report: the format from the suffix, every file replaced atomically (temp + rename)."""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import BadInput
from harness.report import html, markdown
from harness.report.document import Document
from harness.results.atomicfile import write_bytes

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown"}


def check_output(path: Path) -> str:
    """The format for `path`, or BadInput when the suffix is unknown or the folder cannot be written.

    Called before any work, so a bad path costs nothing.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadInput(
            f"-o {path}: unknown report format {path.suffix or '(no suffix)'!r} (use .html or .md)"
        )
    folder = path.parent
    if not folder.is_dir():
        raise BadInput(f"-o {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"-o {path}: folder {folder} is not writable")
    if path.is_dir():
        raise BadInput(f"-o {path}: is a folder")
    return fmt


def files_dir(path: Path) -> Path:
    return path.with_name(f"{path.stem}_files")


def write_document(doc: Document, path: Path) -> list[Path]:
    """Write `doc` to `path` (.html or .md); the paths written, the report itself last."""
    fmt = check_output(path)
    if fmt == "html":
        _replace(path, html.render(doc).encode("utf-8"))
        return [path]

    folder = files_dir(path)
    text, pngs = markdown.render(doc, folder.name)
    written = []
    if pngs:
        try:
            folder.mkdir(exist_ok=True)
        except OSError as err:
            raise BadInput(f"-o {path}: cannot create {folder} ({err.strerror or err})") from None
        for name, data in pngs.items():
            _replace(folder / name, data)
            written.append(folder / name)
    _replace(path, text.encode("utf-8"))
    return [*written, path]


def _replace(path: Path, data: bytes) -> None:
    try:
        write_bytes(path, data)
    except OSError as err:
        raise BadInput(f"-o {path}: cannot write ({err.strerror or err})") from None
