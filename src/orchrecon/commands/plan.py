"""`orchrecon plan`: what each orchestration runs, when its schedules fire next, what its trigger waits for."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from orchrecon.app import App, open_app
from orchrecon.clock import format_time, parse_time
from orchrecon.commands import Subparsers
from orchrecon.commands import _definitions as definitions
from orchrecon.documents.durations import format_duration
from orchrecon.documents.model import Orchestration
from orchrecon.errors import UsageError
from orchrecon.scheduling.firetimes import dst_transitions, next_fire_times
from orchrecon.scheduling.labels import local_label, offset_label, utc_label
from orchrecon.scheduling.triggers import TriggerView, evaluate, trigger_key

MAX_COUNT = 1000
# Fire times are computed until the end of datetime's calendar; far before or after this the horizon is nonsense.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("plan", parents=[common])
    p.add_argument("--from", dest="start", metavar="TIME", help="an instant with a zone, e.g. 2026-03-28T00:00Z")
    p.add_argument(
        "--count", type=int, default=5, metavar="N", help=f"fire times per schedule, 1 to {MAX_COUNT} (default 5)"
    )
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            start=a.start,
            count=a.count,
            fmt=a.format,
            out=sys.stdout,
            err=sys.stderr,
            environ=os.environ,
        )
    )


def run(
    *,
    repo: Path,
    state_dir: Path | None,
    start: str | None,
    count: int,
    fmt: str,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
) -> int:
    if not 1 <= count <= MAX_COUNT:
        raise UsageError(f"--count must be between 1 and {MAX_COUNT}, got {count}")
    given = _start(start) if start is not None else None  # arguments are checked before the state directory
    app = open_app(repo, state_dir, environ=environ, read_only=True)
    now = given or app.clock.now()
    result = definitions.load(app)
    context = _Context(app, now)
    plans = [_plan(o, now, count, context) for o in sorted(result.orchestrations.values(), key=lambda o: o.name)]
    if result.note():
        err.write(f"orchrecon: {result.note()}\n")
    if fmt == "json":
        document = {"from": format_time(now), "orchestrations": [_json(p) for p in plans], "valid": result.valid}
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        out.write("\n".join(_text(p) for p in plans))
    for d in result.errors:
        err.write(f"{d.render()}\n")
    return 0 if result.valid else 1


def _start(text: str) -> datetime:
    try:
        at = parse_time(text)
    except ValueError:
        raise UsageError(f"--from {text!r} is not an instant with a zone, e.g. 2026-03-28T00:00Z") from None
    if not EARLIEST <= at < LATEST:
        raise UsageError(f"--from must lie between 1970-01-01T00:00Z and 9000-01-01T00:00Z, got {text!r}")
    return at


class _Context:
    """What the ledger says, read once for all orchestrations."""

    def __init__(self, app: App, now: datetime) -> None:
        self.updates = {t: parse_time(at) for t, (at, _) in app.store.table_updates().items()}
        self.marks = app.store.marks()
        self.starts = {o: parse_time(at) for o, at in app.store.last_run_starts().items()}
        self.now = now


def _plan(o: Orchestration, now: datetime, count: int, context: _Context) -> dict[str, Any]:
    """The plan of one orchestration, instants as datetimes (rendered by `_json` or `_text`)."""
    schedules = []
    for s in o.schedules:
        fires = next_fire_times(s.cron, s.timezone, now, count)
        schedules.append(
            {
                "cron": s.cron,
                "timezone": s.timezone,
                "catchUp": s.catch_up.value,
                "next": fires,
                "dstTransitions": dst_transitions(s.timezone, now, fires[-1]) if fires else [],
            }
        )
    return {
        "name": o.name,
        "description": o.description,
        "suspend": o.suspend,
        "schedules": schedules,
        "trigger": _trigger(o, context) if o.trigger else None,
        "phases": [
            {
                "name": phase.name,
                "tasks": [
                    {
                        "name": t.name,
                        "config": t.config,
                        "enabled": t.enabled,
                        "continueOnFailure": t.continue_on_failure,
                    }
                    for t in phase.tasks
                ],
            }
            for phase in o.phases
        ],
    }


def _trigger(o: Orchestration, context: _Context) -> dict[str, Any]:
    assert o.trigger is not None
    armed = context.marks.get(trigger_key(o.name, o.trigger))
    base: dict[str, Any] = {
        "tables": [
            {"table": t, "lastUpdate": format_time(context.updates[t]) if t in context.updates else None}
            for t in o.trigger.tables
        ],
        "cooldown": format_duration(o.trigger.cooldown),
        "armedAt": armed,
    }
    if armed is None:
        return {**base, "state": "not armed", "waitingFor": list(o.trigger.tables), "cooldownUntil": None}
    state = evaluate(
        o.trigger,
        TriggerView(armed_at=parse_time(armed), last_run_start=context.starts.get(o.name), updates=context.updates),
        context.now,
        suspended=o.suspend,
    )
    return {
        **base,
        "state": state.verdict.value,
        "countsUpdatesAfter": format_time(state.since),
        "waitingFor": list(state.waiting_for),
        "cooldownUntil": format_time(state.cooldown_until) if state.cooldown_until else None,
    }


def _json(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan with its instants as `{"utc": "…Z", "local": "…+02:00"}`."""
    schedules = []
    for s in plan["schedules"]:
        tz = ZoneInfo(s["timezone"])
        schedules.append(
            {
                "cron": s["cron"],
                "timezone": s["timezone"],
                "catchUp": s["catchUp"],
                "next": [{"utc": utc_label(at), "local": at.astimezone(tz).isoformat()} for at in s["next"]],
                "dstTransitions": [
                    {
                        "utc": utc_label(t.at),
                        "local": t.at.astimezone(tz).isoformat(),
                        "offsetBefore": offset_label(t.before.total_seconds()),
                        "offsetAfter": offset_label(t.after.total_seconds()),
                    }
                    for t in s["dstTransitions"]
                ],
            }
        )
    return {**plan, "schedules": schedules}


def _text(plan: dict[str, Any]) -> str:
    lines = [f"{plan['name']}" + (f": {plan['description']}" if plan["description"] else "")]
    if plan["suspend"]:
        lines.append("  suspended: schedules and triggers are off")
    for s in plan["schedules"]:
        tz = ZoneInfo(s["timezone"])
        lines.append(f"  schedule {s['cron']} ({s['timezone']}, catch-up {s['catchUp']})")
        for i, at in enumerate(s["next"]):
            label = "next" if i == 0 else "    "
            lines.append(f"    {label}  {local_label(at.astimezone(tz))}  ({utc_label(at)})")
        for t in s["dstTransitions"]:
            before, after = offset_label(t.before.total_seconds()), offset_label(t.after.total_seconds())
            lines.append(f"    DST   {utc_label(t.at)}: UTC{before} -> UTC{after}")
    if plan["trigger"]:
        lines += _trigger_text(plan["trigger"])
    for i, phase in enumerate(plan["phases"], start=1):
        lines.append(f"  phase {i}: {phase['name']}")
        width = max(len(t["name"]) for t in phase["tasks"])
        for t in phase["tasks"]:
            notes = [
                n for n, on in (("disabled", not t["enabled"]), ("continues on failure", t["continueOnFailure"])) if on
            ]
            suffix = f"  ({', '.join(notes)})" if notes else ""
            lines.append(f"    - {t['name']:<{width}}  {t['config']}{suffix}")
    return "\n".join(lines) + "\n"


def _trigger_text(t: dict[str, Any]) -> list[str]:
    tables = ", ".join(x["table"] for x in t["tables"])
    lines = [f"  trigger when {tables} are all updated, cool-down {t['cooldown']}: {t['state']}"]
    width = max(len(x["table"]) for x in t["tables"])
    for x in t["tables"]:
        lines.append(
            f"    {x['table']:<{width}}  {('updated ' + x['lastUpdate']) if x['lastUpdate'] else 'never updated'}"
        )
    if t["state"] == "not armed":
        lines.append("    counts updates from when the reconciler first sees it")
    elif t["waitingFor"]:
        lines.append(f"    waiting for {', '.join(t['waitingFor'])} (updates after {t['countsUpdatesAfter']})")
    if t["cooldownUntil"]:
        lines.append(f"    cool-down until {t['cooldownUntil']}")
    return lines
