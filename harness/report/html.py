"""One self-contained HTML page: inline style, plots as base64 PNG, no external URL at all.

Every string that comes from a run (model paths, host names, errors) is escaped.
"""

from __future__ import annotations

import base64
from html import escape

from harness.report.document import Document, Figure, Note, Table

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1, h2, h3 { font-weight: 600; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
td { white-space: nowrap; }
div.caveats { border-left: 4px solid #c60; background: #fff6ec; padding: 0.4em 1em; margin: 0 0 1em; }
div.caveats ul { margin: 0.2em 0; padding-left: 1.2em; font-size: 0.9em; }
details { margin: 0.5em 0; }
details > summary { cursor: pointer; }
details > summary > h2, details > summary > h3 { display: inline; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0.3em 0; }
figure { margin: 1em 0 2em; }
figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; }
p.note { color: #555; font-style: italic; }
"""


def render(doc: Document) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(doc.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(doc.title)}</h1>",
    ]
    if doc.caveats:
        parts.append('<div class="caveats" id="caveats"><strong>Read with care</strong><ul>')
        parts += [f"<li>{escape(c)}</li>" for c in doc.caveats]
        parts.append("</ul></div>")
    open_details = False
    for section in doc.sections:
        level = min(max(section.level, 2), 6)
        heading = f"<h{level}>{escape(section.title)}</h{level}>"
        if open_details and (section.level <= 2 or not section.collapsed):
            parts.append("</details>")
            open_details = False
        if section.collapsed and (section.level <= 2 or not open_details):
            # A top-level section folds with its subsections; a lone subsection folds alone.
            parts.append(f"<details><summary>{heading}</summary>")
            open_details = True
        else:
            parts.append(heading)
        for block in section.blocks:
            if isinstance(block, Table):
                parts.append(_table(block))
            elif isinstance(block, Figure):
                parts.append(_figure(block))
            elif isinstance(block, Note):
                parts.append(f'<p class="note">{escape(block.text)}</p>')
    if open_details:
        parts.append("</details>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return (
        f"<table>\n<caption>{escape(table.caption)}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
    )


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    caption = escape(figure.caption)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )
