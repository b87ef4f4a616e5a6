"""Markdown with the plots as PNG files in a folder beside it (`<name>_files/`)."""

from __future__ import annotations

from html import escape

from harness.report.document import Document, Figure, Note, Table


def render(doc: Document, files_dir: str) -> tuple[str, dict[str, bytes]]:
    """The Markdown text and the PNGs it links to, by file name inside `files_dir`."""
    lines = [f"# {_inline(doc.title)}", ""]
    if doc.caveats:
        lines += ["**Read with care:**", "", *(f"- {_inline(c)}" for c in doc.caveats), ""]
    files: dict[str, bytes] = {}
    for section in doc.sections:
        lines += [f"{'#' * min(max(section.level, 2), 6)} {_inline(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += _table(block)
            elif isinstance(block, Figure):
                file_name = _free_name(block.name, files)
                files[file_name] = block.png
                lines += [f"![{_inline(block.caption)}]({files_dir}/{file_name})", ""]
                lines += [f"*{_inline(block.caption)}*", ""]
            elif isinstance(block, Note):
                lines += [f"> {_inline(block.text)}", ""]
    return "\n".join(lines), files


def _free_name(stem: str, taken: dict[str, bytes]) -> str:
    name, n = f"{stem}.png", 2
    while name in taken:
        name, n = f"{stem}-{n}.png", n + 1
    return name


def _inline(text: str) -> str:
    """Text safe inside a Markdown line or table cell: no raw HTML, no cell breaks."""
    return escape(" ".join(str(text).split())).replace("|", "\\|")


def _table(table: Table) -> list[str]:
    lines = [f"**{_inline(table.caption)}**", ""]
    lines.append("| " + " | ".join(_inline(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(_inline(c) for c in row) + " |" for row in table.rows]
    return [*lines, ""]
