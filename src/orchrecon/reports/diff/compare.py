"""Comparing the validated documents of a base revision and a working tree."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from orchrecon.documents.model import Orchestration, Schedule
from orchrecon.documents.result import Validation
from orchrecon.reports.diff.keys import key_changes
from orchrecon.reports.diff.model import (
    Change,
    ConfigurationDiff,
    Diff,
    KeyChange,
    OrchestrationDiff,
    Pair,
    ScheduleView,
    changed_pair,
)
from orchrecon.reports.diff.tasks import phase_diffs, task_diffs
from orchrecon.scheduling.firetimes import dst_transitions, next_fire_times

FIRE_TIMES = 5  # per schedule, before and after


def compare(base: Validation, head: Validation, *, base_name: str, commit: str, now: datetime) -> Diff:
    """What `head` (the working tree) changes against `base` (the revision `base_name` = `commit`)."""
    configurations = tuple(_configurations(base, head))
    changed_refs = {c.ref for c in configurations}
    orchestrations = tuple(_orchestrations(base, head, now, changed_refs))
    owned = {o.file for o in orchestrations} | {c.file for c in configurations}
    return Diff(
        base=base_name,
        commit=commit,
        now=now,
        orchestrations=tuple(sorted(orchestrations, key=lambda o: (_ORDER[o.change], o.name))),
        configurations=tuple(sorted(configurations, key=lambda c: (_ORDER[c.change], c.ref))),
        project=tuple(_project(base, head)),
        other_invalid=tuple(sorted({d.file for d in head.errors} - owned)),
        diagnostics=tuple(head.diagnostics),
        files=len(head.checked_files),
    )


_ORDER = {Change.INVALID: 0, Change.CHANGED: 1, Change.ADDED: 2, Change.REMOVED: 3}


def _named_files(validation: Validation, folder: str, depth: int) -> dict[str, str]:
    """Name (`daily` or `ex/a`) -> file, from the file names of every document looked at, valid or not."""
    found = {}
    for file in validation.checked_files:
        parts = file.split("/")
        if len(parts) == depth and parts[0] == folder and parts[-1].endswith((".yaml", ".yml")):
            found["/".join(parts[1:]).rsplit(".", 1)[0]] = file
    return found


def _orchestrations(
    base: Validation, head: Validation, now: datetime, changed_refs: set[str]
) -> Iterator[OrchestrationDiff]:
    files = _named_files(head, "orchestrations", 2)
    base_files = _named_files(base, "orchestrations", 2)
    for name in sorted({*base.orchestrations, *head.orchestrations, *files}):
        before, after = base.orchestrations.get(name), head.orchestrations.get(name)
        file = files.get(name) or base_files.get(name) or f"orchestrations/{name}.yaml"
        if after is not None and before is not None:
            used = tuple(sorted({t.config for t in after.tasks()} & changed_refs))
            if before != after:
                yield _changed(before, after, file, now, used)
        elif after is not None:
            yield OrchestrationDiff(
                name=name,
                change=Change.ADDED,
                file=file,
                before=None,
                after=after,
                schedules=((), _views(after.schedules, now)),
                trigger=Pair(None, after.trigger) if after.trigger else None,
                invalid_at_base=name in base_files,
            )
        elif name in files:
            problems = tuple(d for d in head.errors if d.file == file)
            yield OrchestrationDiff(
                name=name, change=Change.INVALID, file=file, before=before, after=None, diagnostics=problems
            )
        elif before is not None:
            yield OrchestrationDiff(
                name=name,
                change=Change.REMOVED,
                file=file,
                before=before,
                after=None,
                schedules=(_views(before.schedules, now), ()),
                trigger=Pair(before.trigger, None) if before.trigger else None,
            )


def _changed(
    before: Orchestration, after: Orchestration, file: str, now: datetime, used: tuple[str, ...]
) -> OrchestrationDiff:
    return OrchestrationDiff(
        name=after.name,
        change=Change.CHANGED,
        file=file,
        before=before,
        after=after,
        description=changed_pair(before.description, after.description),
        suspend=changed_pair(before.suspend, after.suspend),
        phases=tuple(phase_diffs([p.name for p in before.phases], [p.name for p in after.phases])),
        tasks=tuple(task_diffs(before, after)),
        schedules=(_views(before.schedules, now), _views(after.schedules, now))
        if before.schedules != after.schedules
        else None,
        trigger=changed_pair(before.trigger, after.trigger),
        notifications=changed_pair(before.notifications, after.notifications),
        changed_configurations=used,
    )


def _views(schedules: Sequence[Schedule], now: datetime) -> tuple[ScheduleView, ...]:
    views = []
    for s in schedules:
        fires = next_fire_times(s.cron, s.timezone, now, FIRE_TIMES)
        transitions = dst_transitions(s.timezone, now, fires[-1]) if fires else []
        views.append(ScheduleView(schedule=s, fires=tuple(fires), transitions=tuple(transitions)))
    return tuple(views)


def _configurations(base: Validation, head: Validation) -> Iterator[ConfigurationDiff]:
    files = _named_files(head, "configurations", 3)
    base_files = {ref: base.files[f"Configuration/{ref}"] for ref in base.configurations}
    for ref in sorted({*base.configurations, *head.configurations, *files}):
        before, after = base.configurations.get(ref), head.configurations.get(ref)
        file = files.get(ref) or base_files.get(ref) or f"configurations/{ref}.yaml"
        if after is not None and before is not None:
            if before != after:
                keys = key_changes(
                    _document(base, f"Configuration/{ref}"), _document(head, f"Configuration/{ref}"), hidden=True
                )
                yield ConfigurationDiff(
                    ref=ref, change=Change.CHANGED, file=file, keys=tuple(keys), used_by=_users(head, ref)
                )
        elif after is not None:
            yield ConfigurationDiff(ref=ref, change=Change.ADDED, file=file, used_by=_users(head, ref))
        elif ref in files:
            problems = tuple(d for d in head.errors if d.file == file)
            yield ConfigurationDiff(
                ref=ref, change=Change.INVALID, file=file, used_by=_users(base, ref), diagnostics=problems
            )
        elif before is not None:
            yield ConfigurationDiff(ref=ref, change=Change.REMOVED, file=file, used_by=_users(base, ref))


def _users(validation: Validation, ref: str) -> tuple[str, ...]:
    return tuple(sorted(o.name for o in validation.orchestrations.values() if any(t.config == ref for t in o.tasks())))


def _document(validation: Validation, key: str) -> dict[str, Any]:
    data = validation.documents[validation.files[key]].data
    return {"metadata": {"description": data["metadata"].get("description")}, "spec": data["spec"]}


def _project(base: Validation, head: Validation) -> Iterator[KeyChange]:
    if base.project == head.project:
        return
    before = _document_spec(base, "Project/")
    after = _document_spec(head, "Project/")
    yield from key_changes(before, after, hidden=True)


def _document_spec(validation: Validation, key: str) -> dict[str, Any]:
    file = validation.files.get(key)
    return {"spec": validation.documents[file].data.get("spec") or {}} if file else {}
