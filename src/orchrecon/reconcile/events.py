"""What the reconciler's log says about orchestrations and runs, in words people read. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from orchrecon.clock import parse_time
from orchrecon.execution.progress import seconds
from orchrecon.reconcile.desired import Desired, Reason
from orchrecon.runs.state import RunView, StepStatus

Event = tuple[str, dict[str, object]]


def not_ready(desired: Mapping[str, Desired]) -> list[str]:
    """The orchestrations whose definition is not ready; a removed one is gone, not "not ready"."""
    return sorted(n for n, d in desired.items() if not d.ready and d.reason is not Reason.REMOVED)


def conditions(desired: Mapping[str, Desired]) -> dict[str, dict[str, str]]:
    """The condition of every orchestration that is not simply applied (not ready, suspended, removed),
    as `reconcile.finished` records it: a restarted reconciler then tells only what changed since."""
    return {
        name: {"reason": d.reason.value, "message": d.message}
        for name, d in desired.items()
        if d.reason is not Reason.SUCCEEDED
    }


def condition_changes(told: Mapping[str, Mapping[str, str]], after: Mapping[str, Desired]) -> list[Event]:
    """One event per orchestration whose condition changed since `told` (as `conditions` gives it): not
    ready (with the reason and the first problem), removed, suspended, or applied again after any of
    these. An orchestration missing from `told` was applied; one that stays or appears applied says
    nothing: the pass's own line counts them."""
    events: list[Event] = []
    for name, now in after.items():
        was = told.get(name) or {}
        # A removal or suspension says the same thing whatever revision its message names.
        same = was.get("reason") == now.reason.value and (
            now.reason is not Reason.VALIDATION_FAILED or was.get("message") == now.message
        )
        if same:
            continue
        fields: dict[str, object] = {"orchestration": name, "reason": now.reason.value, "message": now.message}
        if now.reason is Reason.REMOVED:
            events.append(("orchestration removed", fields))
        elif not now.ready:
            events.append(("orchestration not ready", fields))
        elif now.reason is Reason.SUSPENDED:
            events.append(("orchestration suspended", fields))
        elif was:
            events.append(("orchestration ready", fields))
    return events


def run_finished(view: RunView) -> Event:
    """How a run ended: its status, how long it ran, why it stopped (when the record says) and which tasks
    failed."""
    duration_ms = None
    if view.started_at and view.finished_at:
        duration_ms = round((parse_time(view.finished_at) - parse_time(view.started_at)).total_seconds() * 1000)
    fields: dict[str, object] = {
        "orchestration": view.orchestration,
        "run": view.id,
        "status": view.status.value,
        "duration": seconds(duration_ms),
    }
    if view.reason:
        fields["reason"] = view.reason
    failed = [t.name for p in view.phases for t in p.tasks if t.status in (StepStatus.ERROR, StepStatus.TERMINATED)]
    if failed:
        fields["failed"] = failed
    return "run finished", fields
