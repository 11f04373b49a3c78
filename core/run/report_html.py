"""report.html: the blocks of a report as one self-contained page (inline CSS, images as base64
data URIs), so it opens from disk, mailed or archived, with no network and no sibling files."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 1.6em; border-bottom: 1px solid #eee; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; }
code { background: #f0f0f0; padding: 0 .25em; border-radius: 3px; }
table { border-collapse: collapse; margin: .6em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f3f3f3; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
"""


def inline(text: str) -> str:
    """Escaped text with `code` spans as <code>."""
    parts = re.split(r"`([^`]*)`", str(text))
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def to_html(title: str, blocks: list[tuple]) -> str:
    body: list[str] = []
    for kind, *args in blocks:
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{inline(args[0])}</{kind}>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in args[0]) + "</ul>")
        elif kind == "pre":
            body.append(f"<pre>{html.escape(args[0])}</pre>")
        elif kind == "p":
            body.append(f"<p>{inline(args[0])}</p>")
        elif kind == "table":
            header, rows = args
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
            rows_html = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows_html}</tbody></table>")
        elif kind == "img":
            caption, png = args
            body.append(f'<figure><img alt="{html.escape(caption)}" src="{data_uri(png)}">'
                        f"<figcaption>{html.escape(caption)} ({html.escape(Path(png).name)})</figcaption></figure>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body) + "\n</body></html>\n"
    )
