"""Run progress for people: one line per change of state, as it happens."""

from __future__ import annotations

from typing import TextIO

from orchrecon.clock import parse_time
from orchrecon.store.ledger import Record

_COLORS = {"success": "32", "warning": "33", "error": "31", "terminated": "31", "cancelled": "33"}


def seconds(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "-"
    value = milliseconds / 1000
    if value < 60:
        return f"{value:.1f}s"
    minutes, secs = divmod(round(value), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


class Progress:
    def __init__(self, out: TextIO, *, color: bool) -> None:
        self._out = out
        self._color = color
        self._started: dict[str, str] = {}

    def __call__(self, record: Record) -> None:
        line = self._line(record)
        if line:
            stamp = record["time"][11:19]
            self._out.write(f"{stamp}  {line}\n")
            self._out.flush()

    def _status(self, status: str) -> str:
        code = _COLORS.get(status)
        return f"\033[{code}m{status}\033[0m" if self._color and code else status

    def _line(self, r: Record) -> str | None:
        kind = r["type"]
        if kind == "run.requested":
            by = f" by {r['by']}" if r.get("by") else ""
            retry = f", retry of {r['retryOf']}" if r.get("retryOf") else ""
            return f"run {r['run']} of {r['orchestration']} requested ({r['trigger']}{by}{retry})"
        if kind == "run.started":
            self._started[r["run"]] = r["time"]
            return "run started"
        if kind == "phase.started":
            return f"phase {r['phase']} started"
        if kind == "phase.finished":
            return f"phase {r['phase']} {self._status(r['status'])}"
        if kind == "task.started":
            return f"  task {r['task']} started ({r['config']})"
        if kind == "task.finished":
            error = f": {r['error']}" if r.get("error") else ""
            return f"  task {r['task']} {self._status(r['status'])} {seconds(r.get('durationMs'))}{error}"
        if kind == "run.finished":
            began = self._started.get(r["run"])
            took = ""
            if began:
                took = " in " + seconds(round((parse_time(r["time"]) - parse_time(began)).total_seconds() * 1000))
            reason = f" ({r['reason']})" if r.get("reason") else ""
            return f"run {r['run']} {self._status(r['status'])}{took}{reason}"
        return None
