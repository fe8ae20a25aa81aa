"""Run progress for people: one line per change of state, as it happens, and a line now and then while a
task runs long or a run waits."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TextIO

from orchrecon.clock import format_time, parse_time
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


def _since(start: str, now: datetime) -> int:
    return round((now - parse_time(start)).total_seconds() * 1000)


def started_by(trigger: str | None, by: str | None) -> str:
    """`manual by ops@example.com`, `schedule`: what started a run, in words."""
    return f"{trigger or 'unknown'}{f' by {by}' if by else ''}"


class Progress:
    """The observer of `orchrecon run`: prints the runner's records and progress events as lines.

    `tick(now)` (called every few seconds by the command) adds a line for each task that has been running,
    and each run that has been waiting, for at least `every` seconds."""

    def __init__(self, out: TextIO, *, color: bool, every: float = 30.0) -> None:
        self._out = out
        self._color = color
        self._every = every
        self._started: dict[str, str] = {}
        self._waiting: dict[str, str] = {}  # run -> when it was requested, while it waits
        self._waiting_for: dict[str, str] = {}  # run -> the run it waits for
        self._running: dict[tuple[str, str], str] = {}  # (run, task) -> when it started

    def __call__(self, record: Record) -> None:
        line = self._line(record)
        if line:
            self._write(record["time"], line)

    def tick(self, now: datetime) -> None:
        """A line for each task running, and each run waiting, for at least `every` seconds."""
        for (_, task), began in self._running.items():
            if _since(began, now) >= self._every * 1000:
                self._write(format_time(now), f"  task {task} running for {seconds(_since(began, now))}")
        for run, requested in self._waiting.items():
            if _since(requested, now) >= self._every * 1000:
                after = f" (for run {self._waiting_for[run]})" if run in self._waiting_for else ""
                self._write(format_time(now), f"run {run} waiting for {seconds(_since(requested, now))}{after}")

    def _write(self, time: str, line: str) -> None:
        self._out.write(f"{time[11:19]}  {line}\n")
        self._out.flush()

    def _status(self, status: str) -> str:
        code = _COLORS.get(status)
        return f"\033[{code}m{status}\033[0m" if self._color and code else status

    def _line(self, r: Record) -> str | None:
        kind = r["type"]
        if kind.startswith("progress."):
            return self._progress(r)
        if kind == "run.requested":
            self._waiting[r["run"]] = r["time"]
            retry = f", retry of {r['retryOf']}" if r.get("retryOf") else ""
            return f"run {r['run']} of {r['orchestration']} requested ({started_by(r['trigger'], r.get('by'))}{retry})"
        if kind == "run.started":
            self._started[r["run"]] = r["time"]
            self._waiting.pop(r["run"], None)
            return "run started"
        if kind == "phase.started":
            return f"phase {r['phase']} started"
        if kind == "phase.finished":
            return f"phase {r['phase']} {self._status(r['status'])}"
        if kind == "task.started":
            self._running[r["run"], r["task"]] = r["time"]
            worker = f" on {r['worker']}" if r.get("worker") else ""  # a Dask worker's address
            return f"  task {r['task']} started ({r['config']}){worker}"
        if kind == "task.finished":
            self._running.pop((r["run"], r["task"]), None)
            error = f": {r['error']}" if r.get("error") else ""
            return f"  task {r['task']} {self._status(r['status'])} {seconds(r.get('durationMs'))}{error}"
        if kind == "run.finished":
            self._waiting.pop(r["run"], None)
            began = self._started.get(r["run"])
            took = f" in {seconds(_since(began, parse_time(r['time'])))}" if began else ""
            reason = f" ({r['reason']})" if r.get("reason") else ""
            return f"run {r['run']} {self._status(r['status'])}{took}{reason}"
        return None

    def _progress(self, r: Record) -> str | None:
        if r["type"] == "progress.run-waiting":
            self._waiting_for[r["run"]] = r["for"]
            state = f"processing since {r['startedAt'][11:19]}" if r.get("startedAt") else str(r["status"])
            more = r["ahead"] - 1
            ahead = f"; {more} more requested before it" if more > 0 else ""
            return f"run {r['run']} waiting for run {r['for']} ({started_by(r['trigger'], r['by'])}, {state}){ahead}"
        if r["type"] == "progress.task-waiting":
            return f"  task {r['task']} waiting for configuration {r['config']}: in use by {_holder(r['holder'])}"
        if r["type"] == "progress.task-holding":
            where = r.get("worker") or "its worker"
            return (
                f"  task {r['task']} keeps configuration {r['config']} locked until {where} says its command ended"
                " (or its timeout passes)"
            )
        return None


def _holder(holder: dict[str, Any]) -> str:
    task = f"task {holder['task']} of " if holder.get("task") else ""
    of = f" ({holder['orchestration']})" if holder.get("orchestration") else ""
    return f"{task}run {holder.get('run', '?')}{of}"
