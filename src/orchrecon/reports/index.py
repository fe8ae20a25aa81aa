"""`reports/README.md`: one row per orchestration, problems first, under a one-line summary. Pure.

It is built from status documents (`status/<name>.json` content) alone, so the reconciler can rebuild it
after each change from the statuses it already has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from orchrecon.clock import parse_time
from orchrecon.reports.text import duration, instant, local, short, table

Status = Mapping[str, Any]
FAILED = ("error", "terminated", "cancelled")
RECENT = timedelta(hours=24)


def as_of(statuses: Sequence[Status]) -> str | None:
    """The newest fact any of them shows: the index's `now`."""
    return max((s["updatedAt"] for s in statuses), default=None)


def ready(status: Status) -> bool:
    return bool(status["conditions"][0]["status"] == "True")


def last_run(status: Status) -> Mapping[str, Any] | None:
    runs = status["recentRuns"]
    return runs[0] if runs else None


def failed_recently(status: Status, now: str) -> bool:
    """A run requested in the 24 h before `now` ended in error, terminated or cancelled."""
    since = parse_time(now) - RECENT
    return any(
        r["status"] in FAILED and r["requestedAt"] and parse_time(r["requestedAt"]) > since
        for r in status["recentRuns"]
    )


def next_run(status: Status) -> tuple[str, str, str] | None:
    """The earliest next fire time over its schedules: (utc, local, time zone)."""
    found = [(s["next"][0]["utc"], s["next"][0]["local"], s["timezone"]) for s in status["schedules"] if s["next"]]
    return min(found) if found else None


def _rank(status: Status) -> tuple[int, str]:
    run = last_run(status)
    if not ready(status):
        return 0, status["name"]
    if run and run["status"] in FAILED:
        return 1, status["name"]
    if run and run["status"] == "warning":
        return 2, status["name"]
    return 3, status["name"]


def summary(statuses: Sequence[Status]) -> str:
    """`12 orchestrations: 1 not ready, 2 failed in the last 24 h, next run daily-sales at 06:00 …`."""
    now = as_of(statuses)
    count = len(statuses)
    parts = [f"{sum(not ready(s) for s in statuses)} not ready"]
    if now:
        parts.append(f"{sum(failed_recently(s, now) for s in statuses)} failed in the last 24 h")
    upcoming = sorted((n, s["name"]) for s in statuses if (n := next_run(s)))
    if upcoming:
        (at_utc, at_local, zone), first = upcoming[0]
        parts.append(f"next run {first} at {local(at_local)} {zone} ({at_utc[11:16]} UTC)")
    else:
        parts.append("no run scheduled")
    return f"{count} orchestration{'' if count == 1 else 's'}: " + ", ".join(parts)


def trigger_text(trigger: Mapping[str, Any] | None) -> str:
    if trigger is None:
        return "-"
    state = trigger["state"]
    if state == "not armed":
        return "not armed yet"
    if state == "waiting":
        return "waiting for " + ", ".join(f"`{t}`" for t in trigger["waitingFor"])
    if state == "cooldown":
        return f"cooling down until {instant(trigger['cooldownUntil'])}"
    if state == "fire":
        return "armed: the next table update starts a run"
    return str(state)


def ready_text(status: Status) -> str:
    condition = status["conditions"][0]
    mark = {"True": "✅", "False": "❌"}.get(condition["status"], "❔")
    return f"{mark} {condition['reason']}" + ("" if condition["status"] == "True" else f": {condition['message']}")


def run_text(run: Mapping[str, Any] | None) -> str:
    if run is None:
        return "never ran"
    by = f" by {run['by']}" if run.get("by") else ""
    took = duration(run["startedAt"], run["finishedAt"])
    return f"{run['status']}, {instant(run['requestedAt'])}, {took}, {run['trigger']}{by}"


def next_text(status: Status) -> str:
    found = next_run(status)
    if found is None:
        return "suspended" if status["suspended"] else "-"
    at_utc, at_local, zone = found
    return f"{local(at_local)} {zone} ({at_utc[:16].replace('T', ' ')}Z)"


def render_index(statuses: Sequence[Status]) -> str:
    """The markdown of `reports/README.md`; each name links to its report (relative, works on GitHub)."""
    ordered = sorted(statuses, key=_rank)
    now = as_of(statuses)
    lines = [
        "# Orchestrations",
        "",
        summary(statuses),
        "",
        f"As of {instant(now)} (the newest fact in the ledger). Problems first.",
        "",
    ]
    rows = [
        (
            f"[{s['name']}]({s['name']}.md)",
            ready_text(s),
            run_text(last_run(s)),
            next_text(s),
            trigger_text(s["trigger"]),
            short(s["appliedRevision"]),
        )
        for s in ordered
    ]
    lines += table(("Orchestration", "Ready", "Last run", "Next run", "Trigger", "Applied revision"), rows)
    return "\n".join(lines) + "\n"
