"""Event-trigger decisions. Pure: a function of the trigger, what the ledger says, and `now`.

A trigger fires when every table it lists was updated after the start of the orchestration's last
run (whatever started it) and the cool-down since that run has passed. It is evaluated only when one
of its tables is updated: updates during the cool-down still count, and nothing fires merely because
the cool-down ends. A new trigger counts updates from the moment it appeared.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchrecon.clock import format_time
from orchrecon.documents.model import Trigger


class Verdict(enum.Enum):
    FIRE = "fire"
    COOLDOWN = "cooldown"  # every table is fresh, but the last run started less than a cool-down ago
    WAITING = "waiting"  # some tables were not updated since the last run
    SUSPENDED = "suspended"
    INVALID = "invalid"


@dataclass(frozen=True, kw_only=True)
class TriggerView:
    """What the ledger says about a trigger."""

    armed_at: datetime  # when the trigger (with these tables) first appeared
    last_run_start: datetime | None  # the orchestration's last run: started, or requested if still waiting
    updates: Mapping[str, datetime]  # each table's last update


@dataclass(frozen=True, kw_only=True)
class TriggerState:
    verdict: Verdict
    since: datetime  # updates after this count
    tables: Mapping[str, datetime | None]  # each listed table's last update
    waiting_for: tuple[str, ...]
    cooldown_until: datetime | None


def evaluate(
    trigger: Trigger, view: TriggerView, now: datetime, *, suspended: bool = False, valid: bool = True
) -> TriggerState:
    """The trigger's state at `now`: what an update arriving now decides."""
    since = max(view.armed_at, view.last_run_start) if view.last_run_start else view.armed_at
    tables = {table: view.updates.get(table) for table in trigger.tables}
    waiting = tuple(t for t, at in tables.items() if at is None or at <= since)
    cooldown_until = view.last_run_start + trigger.cooldown if view.last_run_start else None
    if suspended:
        verdict = Verdict.SUSPENDED
    elif not valid:
        verdict = Verdict.INVALID
    elif waiting:
        verdict = Verdict.WAITING
    elif cooldown_until is not None and now < cooldown_until:
        verdict = Verdict.COOLDOWN
    else:
        verdict = Verdict.FIRE
    return TriggerState(verdict=verdict, since=since, tables=tables, waiting_for=waiting, cooldown_until=cooldown_until)


def trigger_key(orchestration: str, trigger: Trigger) -> str:
    """Identifies a trigger across revisions: other tables make a new trigger, another cool-down does not."""
    return f"{orchestration}:{','.join(sorted(trigger.tables))}"


def trigger_record(orchestration: str, state: TriggerState) -> dict[str, Any]:
    """The ledger record of a decision taken on a table update: `trigger.fired` (with every table's
    update time) or `trigger.suppressed` (with the reason and what it waits for or until when)."""
    tables = {t: format_time(at) if at else None for t, at in state.tables.items()}
    if state.verdict is Verdict.FIRE:
        return {"type": "trigger.fired", "orchestration": orchestration, "tables": tables}
    record: dict[str, Any] = {
        "type": "trigger.suppressed",
        "orchestration": orchestration,
        "reason": state.verdict.value,
        "tables": tables,
    }
    if state.verdict is Verdict.WAITING:
        record["waitingFor"] = list(state.waiting_for)
        record["message"] = f"waiting for {', '.join(state.waiting_for)}"
    elif state.verdict is Verdict.COOLDOWN:
        assert state.cooldown_until is not None
        record["cooldownUntil"] = format_time(state.cooldown_until)
        record["message"] = f"cool-down until {record['cooldownUntil']}"
    else:
        record["message"] = f"the orchestration is {state.verdict.value}"
    return record
