"""`orchrecon diff --format json`: the same facts as the markdown, as data, never cut. Pure."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from orchrecon.clock import format_time
from orchrecon.documents.durations import format_duration
from orchrecon.documents.model import Notification, Orchestration, Task, Trigger
from orchrecon.errors import Diagnostic, Severity
from orchrecon.reports.diff.keys import webhook_shown
from orchrecon.reports.diff.model import (
    Change,
    ConfigurationDiff,
    Diff,
    KeyChange,
    OrchestrationDiff,
    Pair,
    Place,
    ScheduleView,
    TaskDiff,
)
from orchrecon.scheduling.labels import offset_label, utc_label


def to_json(diff: Diff) -> dict[str, Any]:
    """The diff as JSON-ready data; instants as `{"utc": "…Z", "local": "…+02:00"}`, as `plan` prints them."""
    errors = [d for d in diff.diagnostics if d.severity is Severity.ERROR]
    return {
        "base": {"revision": diff.base, "commit": diff.commit},
        "from": format_time(diff.now),
        "changes": diff.changes,
        "verdict": diff.verdict,
        "orchestrations": [_orchestration(o) for o in diff.orchestrations],
        "configurations": [_configuration(c) for c in diff.configurations],
        "project": [_key(k) for k in diff.project],
        "otherInvalidFiles": list(diff.other_invalid),
        "validation": {
            "valid": not errors,
            "files": diff.files,
            "diagnostics": [_diagnostic(d) for d in diff.diagnostics],
        },
    }


def _orchestration(o: OrchestrationDiff) -> dict[str, Any]:
    out: dict[str, Any] = {"name": o.name, "change": o.change.value, "file": o.file}
    if o.change is Change.INVALID:
        out["kept"] = o.kept
        out["diagnostics"] = [_diagnostic(d) for d in o.diagnostics]
    if o.after is not None and o.before is None:
        out["definition"] = _definition(o.after)
        out["invalidAtBase"] = o.invalid_at_base
    for key, pair in (("description", o.description), ("suspend", o.suspend)):
        if pair is not None:
            out[key] = {"before": pair.before, "after": pair.after}
    if o.phases:
        out["phases"] = [
            {"name": p.name, "change": p.change.value, "positionBefore": p.before, "positionAfter": p.after}
            for p in o.phases
        ]
    if o.tasks:
        out["tasks"] = [_task(t) for t in o.tasks]
    if o.schedules is not None:
        out["schedules"] = {
            "before": [_schedule(v) for v in o.schedules[0]],
            "after": [_schedule(v) for v in o.schedules[1]],
        }
    if o.trigger is not None:
        out["trigger"] = {"before": _trigger(o.trigger.before), "after": _trigger(o.trigger.after)}
    if o.notifications is not None:
        out["notifications"] = {
            "before": [_notification(n) for n in o.notifications.before],
            "after": [_notification(n) for n in o.notifications.after],
        }
    if o.changed_configurations:
        out["changedConfigurations"] = list(o.changed_configurations)
    return out


def _definition(o: Orchestration) -> dict[str, Any]:
    return {
        "phases": [{"name": p.name, "tasks": [_task_settings(t) for t in p.tasks]} for p in o.phases],
    }


def _task_settings(t: Task) -> dict[str, Any]:
    return {"name": t.name, "config": t.config, "enabled": t.enabled, "continueOnFailure": t.continue_on_failure}


def _place(p: Place) -> dict[str, Any]:
    return {"phase": p.phase, "position": p.position}


def _task(t: TaskDiff) -> dict[str, Any]:
    out: dict[str, Any] = {"name": t.name, "change": t.change.value, **_place(t.place)}
    if t.renamed_from:
        out["renamedFrom"] = t.renamed_from
    if t.moved_from:
        out["movedFrom"] = _place(t.moved_from)
    pairs: tuple[tuple[str, Pair | None], ...] = (
        ("config", t.config),
        ("enabled", t.enabled),
        ("continueOnFailure", t.continue_on_failure),
    )
    for key, pair in pairs:
        if pair is not None:
            out[key] = {"before": pair.before, "after": pair.after}
    if t.parameters:
        out["parameters"] = [_key(k) for k in t.parameters]
    if t.change is not Change.CHANGED:
        out["definition"] = _task_settings(t.task)
    return out


def _schedule(v: ScheduleView) -> dict[str, Any]:
    tz = ZoneInfo(v.schedule.timezone)
    return {
        "cron": v.schedule.cron,
        "timezone": v.schedule.timezone,
        "catchUp": v.schedule.catch_up.value,
        "next": [{"utc": utc_label(at), "local": at.astimezone(tz).isoformat()} for at in v.fires],
        "dstTransitions": [
            {
                "utc": utc_label(t.at),
                "local": t.at.astimezone(tz).isoformat(),
                "offsetBefore": offset_label(t.before.total_seconds()),
                "offsetAfter": offset_label(t.after.total_seconds()),
            }
            for t in v.transitions
        ],
    }


def _trigger(t: Trigger | None) -> dict[str, Any] | None:
    return {"tables": list(t.tables), "cooldown": format_duration(t.cooldown)} if t else None


def _notification(n: Notification) -> dict[str, Any]:
    return {
        "events": sorted(e.value for e in n.events),
        "email": n.email,
        "webhook": webhook_shown(n.webhook) if n.webhook is not None else None,
        "overtimePercent": n.overtime_percent,
    }


def _configuration(c: ConfigurationDiff) -> dict[str, Any]:
    out: dict[str, Any] = {"ref": c.ref, "change": c.change.value, "file": c.file, "usedBy": list(c.used_by)}
    if c.keys:
        out["keys"] = [_key(k) for k in c.keys]
    if c.diagnostics:
        out["diagnostics"] = [_diagnostic(d) for d in c.diagnostics]
    return out


def _key(k: KeyChange) -> dict[str, Any]:
    """Values as shown in the markdown (compact JSON text); a side where the key is absent is left out."""
    out: dict[str, Any] = {"key": k.key}
    if k.before is not None:
        out["before"] = k.before
    if k.after is not None:
        out["after"] = k.after
    return out


def _diagnostic(d: Diagnostic) -> dict[str, Any]:
    return {
        "file": d.file,
        "line": d.line,
        "col": d.col,
        "severity": d.severity.value,
        "path": d.json_path,
        "message": d.message,
    }
