"""Schedule and trigger decisions from the ledger, in plain words. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
    slot = f"the {d.get('slot')} slot of `{d.get('cron')}` ({d.get('timezone')})"
    kind = d.get("type")
    if kind == "schedule.fired":
        return f"schedule fired for {slot}"
    if kind == "schedule.suppressed":
        return f"{slot} did not run: the orchestration is {d.get('reason') or 'suspended'}"
    more = f" (and {d['alsoMissed']} earlier missed slots)" if d.get("alsoMissed") else ""
    if d.get("caughtUp"):
        return f"{slot} was missed while no reconciler ran{more}; caught up with one run (catchUp: latest)"
    return f"{slot} was missed while no reconciler ran{more}; not run (a later slot ran, or catchUp: none)"
