"""Schedule and trigger decisions from the ledger, in plain words. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from orchrecon.clock import parse_time
from orchrecon.reports.text import local


def decision_text(d: Mapping[str, Any]) -> str:
    kind = d.get("type")
    if str(kind).startswith("schedule."):
        return _schedule(d)
    tables = ", ".join(f"`{t}`" for t in d.get("tables") or {})
    if kind == "trigger.fired":
        run = f"; requested run `{d['run']}`" if d.get("run") else ""
        return f"trigger fired: every table ({tables}) was updated since the last run{run}"
    reason = d.get("reason")
    if reason == "waiting":
        return "trigger did not fire: waiting for " + ", ".join(f"`{t}`" for t in d.get("waitingFor", ()))
    if reason == "cooldown":
        return f"trigger did not fire: every table was updated, but the cool-down lasts until {d.get('cooldownUntil')}"
    return f"trigger did not fire: {d.get('message') or reason}"


def _schedule(d: Mapping[str, Any]) -> str:
    slot = f"the {_slot(d)} slot of `{d.get('cron')}`"
    kind = d.get("type")
    if kind == "schedule.fired":
        return f"schedule fired for {slot}"
    if kind == "schedule.suppressed":
        return f"{slot} did not run: the orchestration is {d.get('reason') or 'suspended'}"
    more = f" (and {d['alsoMissed']} earlier missed slots)" if d.get("alsoMissed") else ""
    if d.get("caughtUp"):
        return f"{slot} was missed while no reconciler ran{more}; caught up with one run (catchUp: latest)"
    return f"{slot} was missed while no reconciler ran{more}; not run (a later slot ran, or catchUp: none)"


def _slot(d: Mapping[str, Any]) -> str:
    """The slot in the schedule's own zone: `2026-03-26 02:30 +01:00 (Europe/Prague)`."""
    try:
        at = parse_time(str(d["slot"]))
        return f"{local(at.astimezone(ZoneInfo(str(d['timezone']))).isoformat())} ({d['timezone']})"
    except (KeyError, ValueError):
        return str(d.get("slot"))
