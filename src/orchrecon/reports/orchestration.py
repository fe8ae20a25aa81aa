"""`reports/<name>.md`: one orchestration for people. Pure: markdown from its status, definition, runs,
latest run, log tails and decisions; its `now` is the status's `updatedAt`, a time from the ledger."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchrecon.clock import parse_time
from orchrecon.documents.model import Orchestration
from orchrecon.reports.decisions import decision_text
from orchrecon.reports.gantt import gantt
from orchrecon.reports.index import ready_text, trigger_text
from orchrecon.reports.text import code_block, duration, instant, local, seconds, short, span, table, utc
from orchrecon.runs.state import RunView, TaskView
from orchrecon.scheduling.firetimes import dst_transitions
from orchrecon.store.runstore import RunSummary


@dataclass(frozen=True, kw_only=True)
class ReportFacts:
    status: Mapping[str, Any]  # what status/<name>.json holds
    definition: Orchestration | None  # the applied one, else the latest run's
    definition_from: str  # where `definition` comes from, for people
    runs: Sequence[RunSummary]  # newest first
    latest: RunView | None
    logs: Mapping[str, Sequence[str]] = field(default_factory=dict)  # task -> its log's last lines
    decisions: Sequence[Mapping[str, Any]] = ()  # schedule and trigger decisions, newest first


def render_report(facts: ReportFacts) -> str:
    status = facts.status
    now = parse_time(status["updatedAt"])
    lines = [f"# {status['name']}", "", "[← all orchestrations](README.md)", ""]
    if facts.definition and facts.definition.description:
        lines += [facts.definition.description, ""]
    lines += [
        f"- Ready: {ready_text(status)}",
        f"- Applied revision: {short(status['appliedRevision'])}"
        f" (last attempted: {short(status['lastAttemptedRevision'])})",
        f"- As of {instant(status['updatedAt'])} (the newest fact in the ledger)",
        "",
    ]
    lines += _overrun(status, facts.runs)
    lines += _problems(status)
    lines += _definition(facts)
    lines += _schedules(status, now)
    lines += _trigger(status, facts.definition)
    lines += _runs(facts.runs)
    lines += _latest(facts, now)
    lines += _decisions(facts.decisions)
    return "\n".join(lines).rstrip("\n") + "\n"


def _problems(status: Mapping[str, Any]) -> list[str]:
    if not status["diagnostics"]:
        return []
    lines = ["## Validation problems", ""]
    lines += [f"- `{d['file']}:{d['line']}:{d['col']}`: {d['message']} (`{d['path']}`)" for d in status["diagnostics"]]
    return [*lines, ""]


def _definition(facts: ReportFacts) -> list[str]:
    o = facts.definition
    lines = ["## Definition", ""]
    if o is None:
        return [*lines, "No definition was ever applied.", ""]
    lines += [
        f"From {facts.definition_from}." + (" Suspended: schedules and triggers are off." if o.suspend else ""),
        "",
    ]
    for number, phase in enumerate(o.phases, start=1):
        lines += [f"### Phase {number}: {phase.name}", ""]
        rows = [
            (
                f"`{t.name}`",
                f"`{t.config}`",
                "yes" if t.enabled else "**no** (never runs)",
                "yes" if t.continue_on_failure else "no",
                ", ".join(f"`{k}`" for k in sorted(t.parameters)) or "-",
            )
            for t in phase.tasks
        ]
        lines += [*table(("Task", "Configuration", "Enabled", "Continue on failure", "Parameters"), rows), ""]
    return lines


def _schedules(status: Mapping[str, Any], now: datetime) -> list[str]:
    lines = ["## Next fire times", ""]
    if not status["schedules"]:
        why = "suspended" if status["suspended"] else "no schedule is followed"
        return [*lines, f"None: {why}.", ""]
    for s in status["schedules"]:
        lines += [f"`{s['cron']}` in {s['timezone']} (catch-up: {s['catchUp']})", ""]
        rows: list[tuple[str, ...]] = []
        previous: str | None = None
        for at in s["next"]:
            offset = at["local"][19:]
            note = f"DST: UTC{previous} → UTC{offset}" if previous and offset != previous else ""
            rows.append((local(at["local"]), utc(parse_time(at["utc"])), note))
            previous = offset
        lines += table(("Local", "UTC", "DST"), rows)
        if s["next"]:
            changes = dst_transitions(s["timezone"], now, parse_time(s["next"][-1]["utc"]))
            lines += [
                "",
                *(f"- DST transition at {utc(t.at)}: UTC{_offset(t.before)} → UTC{_offset(t.after)}" for t in changes),
            ]
        lines.append("")
    return lines


def _offset(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _trigger(status: Mapping[str, Any], definition: Orchestration | None) -> list[str]:
    t = status["trigger"]
    if t is None:
        return []
    cooldown = f", cool-down {span(definition.trigger.cooldown)}" if definition and definition.trigger else ""
    lines = ["## Trigger", "", f"State: {trigger_text(t)}{cooldown}.", ""]
    if t["state"] == "not armed":
        return lines
    waiting = set(t["waitingFor"])
    rows = [
        (f"`{x['table']}`", instant(x["lastUpdate"]), "waiting for an update" if x["table"] in waiting else "updated")
        for x in t["tables"]
    ]
    lines += table(("Table", "Last update", f"Since {instant(t['countsUpdatesAfter'])}"), rows)
    if t["cooldownUntil"]:
        lines += ["", f"Cool-down since the last run ends at {instant(t['cooldownUntil'])}."]
    return [*lines, ""]


def _runs(runs: Sequence[RunSummary]) -> list[str]:
    lines = [f"## Last {len(runs)} runs" if len(runs) != 1 else "## Last run", ""]
    if not runs:
        return [*lines, "No runs yet.", ""]
    rows = [
        (
            f"`{r.id}`",
            r.trigger or "-",
            r.by or "-",
            instant(r.requested_at),
            instant(r.started_at),
            duration(r.started_at, r.finished_at),
            r.status.value,
            f"`{r.retry_of}`" if r.retry_of else "-",
        )
        for r in runs
    ]
    lines += table(("Run", "How", "By", "Requested", "Started", "Duration", "Status", "Retry of"), rows)
    return [*lines, ""]


def _latest(facts: ReportFacts, now: datetime) -> list[str]:
    view = facts.latest
    if view is None:
        return []
    by = f" by {view.by}" if view.by else ""
    retry = f", retry of `{view.retry_of}`" if view.retry_of else ""
    revision = f", revision {short(view.revision)}{' (dirty)' if view.dirty else ''}" if view.revision else ""
    lines = [
        f"## Latest run `{view.id}`: {view.status.value}",
        "",
        f"{view.trigger}{by}{revision}{retry}; requested {instant(view.requested_at)},"
        f" started {instant(view.started_at)}, took {duration(view.started_at, view.finished_at)}",
        "",
    ]
    if view.reason:
        lines += [f"Reason: {view.reason}", ""]
    # A run with a task on a Dask cluster has a Worker column in every phase; a local-only run has none.
    remote = any(t.worker for p in view.phases for t in p.tasks)
    header = ("Task", "Status", "Duration", "Exit code", *(("Worker",) if remote else ()))
    for number, phase in enumerate(view.phases, start=1):
        took = duration(phase.started_at, phase.finished_at)
        lines += [f"### Phase {number}: {phase.name}: {phase.status.value} ({took})", ""]
        rows = [
            (
                f"`{t.name}`",
                t.status.value
                + (" (continues on failure)" if t.continue_on_failure and t.status.value == "error" else ""),
                duration(t.started_at, t.finished_at),
                "-" if t.exit_code is None else t.exit_code,
                *((_worker(t),) if remote else ()),
            )
            for t in phase.tasks
        ]
        lines += [*table(header, rows), ""]
        for t in phase.tasks:
            tail = facts.logs.get(t.name, ())
            if t.error:
                lines += [f"`{t.name}` error: {t.error}", ""]
            if tail:
                last = "the last log line" if len(tail) == 1 else f"the last {len(tail)} log lines"
                lines += [f"<details><summary>{t.name}: {last}</summary>", ""]
                lines += [*code_block(tail), "", "</details>", ""]
    chart = gantt(view, now=now)
    if chart:
        lines += ["### Timeline", "", *chart, ""]
    return lines


def _worker(task: TaskView) -> str:
    """Where a task ran: its Dask worker's address, `local` if it started without one, `-` if it never started."""
    if task.worker:
        return f"`{task.worker}`" if "`" not in task.worker else task.worker
    return "local" if task.started_at else "-"


def _decisions(decisions: Sequence[Mapping[str, Any]]) -> list[str]:
    if not decisions:
        return []
    lines = ["## Recent decisions", ""]
    lines += table(("When", "Decision"), [(instant(d.get("time")), decision_text(d)) for d in decisions])
    return [*lines, ""]


def _overrun(status: Mapping[str, Any], runs: Sequence[RunSummary]) -> list[str]:
    """A warning when the median run lasts longer than the shortest gap between scheduled runs."""
    took = [
        (parse_time(r.finished_at) - parse_time(r.started_at)).total_seconds()
        for r in runs
        if r.started_at and r.finished_at
    ]
    instants = sorted(parse_time(at["utc"]) for s in status["schedules"] for at in s["next"])
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(instants) if b > a]
    if not took or not gaps:
        return []
    median, interval = statistics.median(took), min(gaps)
    if median <= interval:
        return []
    return [
        f"> **Warning**: runs are requested faster than they finish: the median of the last {len(took)} runs"
        f" took {seconds(median)}, the schedule requests one every {seconds(interval)}. Runs of one orchestration"
        " never overlap, so each waits for the one before and the queue grows.",
        "",
    ]
