"""Small pieces of markdown every report uses: durations, instants, table cells, code blocks. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from orchrecon.clock import parse_time

_PLAIN = re.compile(r"[^|\\\s]*(?: [^|\\\s]+)*")


def duration(started: str | None, finished: str | None) -> str:
    """`4.2s`, `3m05s`, `2h10m`; `-` when it has not both started and finished."""
    if not started or not finished:
        return "-"
    return seconds((parse_time(finished) - parse_time(started)).total_seconds())


def seconds(value: float) -> str:
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(round(value), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def instant(text: str | None) -> str:
    """A ledger time for people: `2026-03-02 05:00:01Z` (UTC, to the second)."""
    return f"{text[:10]} {text[11:19]}Z" if text else "-"


def utc(at: datetime) -> str:
    return at.isoformat()[:16].replace("T", " ") + "Z"


def local(text: str) -> str:
    """`2026-03-27T06:00:00+01:00` as `2026-03-27 06:00 +01:00`."""
    return f"{text[:10]} {text[11:16]} {text[19:]}"


def cell(text: object) -> str:
    """A table cell: one line, pipes and backslashes escaped so the table keeps its shape."""
    text = str(text)
    if _PLAIN.fullmatch(text):  # most cells: nothing to do, and a report has hundreds
        return text
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def code_block(lines: Sequence[str], language: str = "text") -> list[str]:
    """A fenced block whose fence no line of the content can close."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *lines, fence]


def short(revision: str | None) -> str:
    return revision[:12] if revision else "-"


def span(delta: timedelta) -> str:
    """A duration as documents write it: `50m`, `1h30m`, `2d`, `45s`."""
    total, parts = int(delta.total_seconds()), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0s"
