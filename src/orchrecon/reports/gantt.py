"""A mermaid gantt chart of one run: a bar per task that started, in sections by phase. Pure.

Times are absolute and in UTC (mermaid reads them in the viewer's zone and shows them unchanged), to the
millisecond; names keep only characters mermaid's grammar cannot mistake for syntax."""

from __future__ import annotations

import re
from datetime import datetime

from orchrecon.clock import format_time, parse_time
from orchrecon.runs.state import RunView, StepStatus

DATE_FORMAT = "YYYY-MM-DD HH:mm:ss.SSS"
_UNSAFE = re.compile(r"[^A-Za-z0-9 _.()/-]+")
_TAGS = {
    StepStatus.SUCCESS: "done, ",
    StepStatus.ERROR: "crit, done, ",
    StepStatus.TERMINATED: "crit, done, ",
    StepStatus.PROCESSING: "active, ",
}


def name(text: str) -> str:
    """Text mermaid shows as it is: no `:`, `#`, `;` or other syntax; never empty."""
    return " ".join(_UNSAFE.sub(" ", text).split()) or "unnamed"


def gantt(view: RunView, *, now: datetime) -> list[str] | None:
    """The chart's lines (a fenced `mermaid` block), or None when no task of the run started. A task still
    running ends at `now` (a time from the ledger)."""
    lines = [
        "```mermaid",
        "gantt",
        f"    title {name(f'Run {view.id} of {view.orchestration}')} (UTC)",
        f"    dateFormat {DATE_FORMAT}",
        "    axisFormat %H:%M:%S",
    ]
    bars = 0
    for phase in view.phases:
        started = [t for t in phase.tasks if t.started_at]
        if not started:
            continue
        lines.append(f"    section {name(phase.name)}")
        for task in started:
            assert task.started_at is not None
            begin = parse_time(task.started_at)
            end = parse_time(task.finished_at) if task.finished_at else max(begin, now)
            bars += 1
            label = name(f"{task.name} {task.status.value}")
            lines.append(f"    {label} :{_TAGS.get(task.status, '')}t{bars}, {_stamp(begin)}, {_stamp(end)}")
    lines.append("```")
    return lines if bars else None


def _stamp(at: datetime) -> str:
    text = format_time(at)  # 2026-03-02T05:00:00.123Z
    return f"{text[:10]} {text[11:23]}"
