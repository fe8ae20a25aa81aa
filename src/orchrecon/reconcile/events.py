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


def condition_changes(before: Mapping[str, Desired], after: Mapping[str, Desired]) -> list[Event]:
    """One event per orchestration whose condition changed: not ready (with the reason and the first
    problem), removed, or ready again after either. Orchestrations that simply stay ready, or appear
    ready, say nothing: the pass's own line counts them."""
    events: list[Event] = []
    for name, now in after.items():
        was = before.get(name)
        if was is not None and (was.ready, was.reason, was.message) == (now.ready, now.reason, now.message):
            continue
        fields: dict[str, object] = {"orchestration": name, "reason": now.reason.value, "message": now.message}
        if now.reason is Reason.REMOVED:
            events.append(("orchestration removed", fields))
        elif not now.ready:
            events.append(("orchestration not ready", fields))
        elif was is None:
            continue
        elif now.reason is Reason.SUSPENDED and was.reason is not Reason.SUSPENDED:
            events.append(("orchestration suspended", fields))
        elif not was.ready or was.reason is not now.reason:
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
