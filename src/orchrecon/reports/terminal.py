"""The reports' markdown in a terminal-friendly form: aligned tables, no markup, no chart. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"\*\*|`|</?details>|</?summary>")
_CELL = re.compile(r"(?<!\\)\|")
_BLANKS = re.compile(r"\n{3,}")


def to_terminal(markdown: str) -> str:
    out: list[str] = []
    rows: list[list[str]] = []
    fence: str | None = None  # inside a fenced block: the line that closes it
    chart = False  # that block is a mermaid chart, left out
    for line in markdown.splitlines():
        if fence is not None:
            if line == fence:
                fence = None
            elif not chart:
                out.append("    " + line)
            continue
        if line.startswith("```"):
            fence = line[: len(line) - len(line.lstrip("`"))]
            chart = line.endswith("mermaid")
            if chart:
                out.append("(timeline: the mermaid chart in the markdown report)")
            continue
        if line.startswith("|"):
            cells = [_plain(c.strip()).replace("\\|", "|").replace("\\\\", "\\") for c in _CELL.split(line)[1:-1]]
            if not all(set(c) <= {"-"} for c in cells):
                rows.append(cells)
            continue
        if rows:
            out += _aligned(rows)
            rows = []
        text = _plain(line.lstrip("#").lstrip() if line.startswith("#") else line.removeprefix("> "))
        if line.startswith("#"):
            out += [text, ("=" if line.startswith("# ") else "-") * len(text)]
        else:
            out.append(text)
    if rows:
        out += _aligned(rows)
    text = "\n".join(out).strip("\n")
    return _BLANKS.sub("\n\n", text) + "\n"


def _plain(text: str) -> str:
    return _MARKUP.sub("", _LINK.sub(r"\1", text))


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(max(len(r) for r in rows))]
    return ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
