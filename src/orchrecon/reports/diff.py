"""What a working tree changes against a base revision: orchestrations, configurations and project settings
added, removed, changed or invalid, down to phases, tasks, schedules (with their next fire times) and triggers.

Pure: both sides come in validated, `now` comes in. Rendering is `diffmarkdown` and `diffjson`.
"""

from __future__ import annotations

import bisect
import enum
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchrecon.documents.durations import format_duration
from orchrecon.documents.model import Notification, Orchestration, Schedule, Task, Trigger
from orchrecon.documents.result import Validation
from orchrecon.errors import Diagnostic
from orchrecon.scheduling.firetimes import Transition, dst_transitions, next_fire_times

FIRE_TIMES = 5  # per schedule, before and after
VALUE_WIDTH = 80  # characters of a shown value before it is cut

# Values under these document paths may be credentials written literally: shown as changed, never as text.
# A `{fromEnv: VAR}` anywhere is shown as its variable's name, which is no secret.
_HIDDEN = (("spec", "run", "env"), ("spec", "run", "http", "headers"), ("spec", "smtp", "username"))
_HIDDEN_FIELDS = (("spec", "smtp", "password"),)
HIDDEN_VALUE = "(literal value, not shown)"


class Change(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    INVALID = "invalid"
    MOVED = "moved"


@dataclass(frozen=True)
class Pair:
    """A value before and after."""

    before: Any
    after: Any


@dataclass(frozen=True, kw_only=True)
class KeyChange:
    """One changed key of a mapping; `key` is a dotted path (`filters.days`), values are shown as compact JSON
    (None: the key is absent on that side)."""

    key: str
    before: str | None
    after: str | None


@dataclass(frozen=True, kw_only=True)
class Place:
    phase: str
    position: int  # 1-based within the phase


@dataclass(frozen=True, kw_only=True)
class TaskDiff:
    """A task added, removed or changed. `task` is its definition after (before, for a removed one)."""

    name: str
    change: Change
    task: Task
    place: Place  # after (before, for a removed one)
    renamed_from: str | None = None
    moved_from: Place | None = None
    config: Pair | None = None
    enabled: Pair | None = None
    continue_on_failure: Pair | None = None
    parameters: tuple[KeyChange, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PhaseDiff:
    name: str
    change: Change  # ADDED, REMOVED or MOVED
    before: int | None  # 1-based position
    after: int | None


@dataclass(frozen=True, kw_only=True)
class ScheduleView:
    """A schedule with its next fire times from `now`, as `plan` computes them."""

    schedule: Schedule
    fires: tuple[datetime, ...]  # UTC
    transitions: tuple[Transition, ...]  # DST changes up to the last fire time


@dataclass(frozen=True, kw_only=True)
class OrchestrationDiff:
    name: str
    change: Change  # ADDED, REMOVED, CHANGED or INVALID
    file: str
    before: Orchestration | None
    after: Orchestration | None
    description: Pair | None = None
    suspend: Pair | None = None
    phases: tuple[PhaseDiff, ...] = ()
    tasks: tuple[TaskDiff, ...] = ()
    schedules: tuple[tuple[ScheduleView, ...], tuple[ScheduleView, ...]] | None = None  # before, after
    trigger: Pair | None = None  # of Trigger | None
    notifications: Pair | None = None  # of tuple[Notification, ...]
    diagnostics: tuple[Diagnostic, ...] = ()  # INVALID: why
    changed_configurations: tuple[str, ...] = ()  # configurations it uses that change
    invalid_at_base: bool = False  # ADDED: its file was there, but invalid

    @property
    def kept(self) -> bool:
        """INVALID: the definition of the base keeps running (False: new, so nothing runs)."""
        return self.before is not None


@dataclass(frozen=True, kw_only=True)
class ConfigurationDiff:
    ref: str
    change: Change  # ADDED, REMOVED, CHANGED or INVALID
    file: str
    keys: tuple[KeyChange, ...] = ()  # CHANGED: what, by document path (`spec.run.timeout`)
    used_by: tuple[str, ...] = ()  # orchestrations after (before, for a removed one)
    diagnostics: tuple[Diagnostic, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Diff:
    """Everything the working tree changes against `base` (as named) = `commit`."""

    base: str
    commit: str
    now: datetime
    orchestrations: tuple[OrchestrationDiff, ...]
    configurations: tuple[ConfigurationDiff, ...]
    project: tuple[KeyChange, ...]  # settings in orchrecon.yaml
    other_invalid: tuple[str, ...]  # files with errors that hold no orchestration or configuration
    diagnostics: tuple[Diagnostic, ...]  # of the working tree, errors and warnings
    files: int  # document files checked in the working tree

    @property
    def changes(self) -> bool:
        """Something changes; an invalid document counts (it is kept at its last good definition)."""
        return bool(self.orchestrations or self.configurations or self.project or self.other_invalid)

    def count(self, change: Change) -> int:
        return sum(1 for o in self.orchestrations if o.change is change)

    @property
    def verdict(self) -> str:
        """One line: `2 orchestrations change, 1 added, 1 invalid (kept at its last good definition)`."""
        parts = [
            p
            for p in (
                _counted("orchestration", [o.change for o in self.orchestrations], self._invalid_note()),
                _counted(
                    "configuration",
                    [c.change for c in self.configurations],
                    "(what uses it is kept at its last good definition)",
                ),
                "project settings change" if self.project else "",
                f"{_plural(len(self.other_invalid), 'other file')} invalid" if self.other_invalid else "",
            )
            if p
        ]
        return "; ".join(parts) if parts else "No changes"

    def _invalid_note(self) -> str:
        invalid = [o for o in self.orchestrations if o.change is Change.INVALID]
        kept = sum(1 for o in invalid if o.kept)
        if kept == len(invalid):
            return "(kept at its last good definition)" if kept == 1 else "(kept at their last good definitions)"
        if kept == 0:
            return "(new, not applied)"
        return f"({kept} kept at {'its' if kept == 1 else 'their'} last good definition, {len(invalid) - kept} new)"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _counted(noun: str, changes: Sequence[Change], invalid_note: str) -> str:
    words: list[str] = []
    for change in (Change.CHANGED, Change.ADDED, Change.REMOVED, Change.INVALID):
        n = changes.count(change)
        if not n:
            continue
        word = {Change.CHANGED: "changes" if n == 1 else "change", Change.INVALID: f"invalid {invalid_note}"}.get(
            change, change.value
        )
        words.append(f"{_plural(n, noun) if not words else n} {word}")
    return ", ".join(words)


# --- comparing ------------------------------------------------------------------------------------------------


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
        description=_pair(before.description, after.description),
        suspend=_pair(before.suspend, after.suspend),
        phases=tuple(_phase_diffs([p.name for p in before.phases], [p.name for p in after.phases])),
        tasks=tuple(task_diffs(before, after)),
        schedules=(_views(before.schedules, now), _views(after.schedules, now))
        if before.schedules != after.schedules
        else None,
        trigger=_pair(before.trigger, after.trigger),
        notifications=_pair(before.notifications, after.notifications),
        changed_configurations=used,
    )


def _pair(before: Any, after: Any) -> Pair | None:
    return None if before == after else Pair(before, after)


def _views(schedules: Sequence[Schedule], now: datetime) -> tuple[ScheduleView, ...]:
    views = []
    for s in schedules:
        fires = next_fire_times(s.cron, s.timezone, now, FIRE_TIMES)
        transitions = dst_transitions(s.timezone, now, fires[-1]) if fires else []
        views.append(ScheduleView(schedule=s, fires=tuple(fires), transitions=tuple(transitions)))
    return tuple(views)


def _phase_diffs(before: list[str], after: list[str]) -> Iterator[PhaseDiff]:
    kept = [n for n in after if n in before]
    in_order = set(_in_order(kept, [before.index(n) for n in kept]))
    for i, name in enumerate(after, start=1):
        if name not in before:
            yield PhaseDiff(name=name, change=Change.ADDED, before=None, after=i)
        elif name not in in_order:
            yield PhaseDiff(name=name, change=Change.MOVED, before=before.index(name) + 1, after=i)
    for i, name in enumerate(before, start=1):
        if name not in after:
            yield PhaseDiff(name=name, change=Change.REMOVED, before=i, after=None)


def _in_order(names: Sequence[str], positions: Sequence[int]) -> list[str]:
    """The most names whose old positions still increase (a longest increasing subsequence): the others
    are the ones that moved."""
    tails: list[int] = []  # tails[k]: the index of the smallest last item of an increasing run of length k+1
    tail_positions: list[int] = []
    parents: list[int] = [-1] * len(names)
    for i, pos in enumerate(positions):
        k = bisect.bisect_left(tail_positions, pos)
        parents[i] = tails[k - 1] if k else -1
        if k == len(tails):
            tails.append(i)
            tail_positions.append(pos)
        else:
            tails[k] = i
            tail_positions[k] = pos
    chain, i = [], tails[-1] if tails else -1
    while i != -1:
        chain.append(names[i])
        i = parents[i]
    return chain


def task_diffs(before: Orchestration, after: Orchestration) -> Iterator[TaskDiff]:
    """Tasks added, removed and changed, matched by name. A task that disappears and one that appears with the
    same configuration and parameters is a rename when that pairing is the only one possible."""
    old = _places(before)
    new = _places(after)
    gone = [n for n in old if n not in new]
    fresh = [n for n in new if n not in old]
    matches = {n: n for n in new if n in old}  # new name -> old name
    for g in gone:
        candidates = [f for f in fresh if _same_work(old[g][1], new[f][1])]
        if len(candidates) == 1 and sum(_same_work(old[x][1], new[candidates[0]][1]) for x in gone) == 1:
            matches[candidates[0]] = g
    moved = _moved(old, new, matches)
    for name, (place, task) in new.items():
        if name not in matches:
            yield TaskDiff(name=name, change=Change.ADDED, task=task, place=place)
            continue
        old_name = matches[name]
        old_place, old_task = old[old_name]
        diff = TaskDiff(
            name=name,
            change=Change.CHANGED,
            task=task,
            place=place,
            renamed_from=old_name if old_name != name else None,
            moved_from=old_place if name in moved else None,
            config=_pair(old_task.config, task.config),
            enabled=_pair(old_task.enabled, task.enabled),
            continue_on_failure=_pair(old_task.continue_on_failure, task.continue_on_failure),
            parameters=tuple(key_changes(old_task.parameters, task.parameters)),
        )
        if (
            diff.renamed_from
            or diff.moved_from
            or diff.config
            or diff.enabled
            or diff.continue_on_failure
            or diff.parameters
        ):
            yield diff
    for name, (place, task) in old.items():
        if name not in matches.values():
            yield TaskDiff(name=name, change=Change.REMOVED, task=task, place=place)


def _places(o: Orchestration) -> dict[str, tuple[Place, Task]]:
    return {
        t.name: (Place(phase=phase.name, position=i), t)
        for phase in o.phases
        for i, t in enumerate(phase.tasks, start=1)
    }


def _same_work(a: Task, b: Task) -> bool:
    return a.config == b.config and a.parameters == b.parameters


def _moved(
    old: Mapping[str, tuple[Place, Task]], new: Mapping[str, tuple[Place, Task]], matches: Mapping[str, str]
) -> set[str]:
    """New names of the matched tasks now in another phase, or out of order among those that stayed in theirs."""
    moved = {n for n, o in matches.items() if new[n][0].phase != old[o][0].phase}
    phases = {new[n][0].phase for n in matches}
    for phase in phases:
        stayed = sorted(
            (n for n in matches if new[n][0].phase == phase and n not in moved), key=lambda n: new[n][0].position
        )
        in_order = set(_in_order(stayed, [old[matches[n]][0].position for n in stayed]))
        moved.update(n for n in stayed if n not in in_order)
    return moved


# --- configurations and project settings ------------------------------------------------------------------


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


_ABSENT = object()


def key_changes(before: Any, after: Any, *, hidden: bool = False) -> Iterator[KeyChange]:
    """The keys of two mappings whose values differ, mappings compared key by key and anything else whole.
    With `hidden`, values at paths that may hold literal credentials are never shown."""
    yield from _walk(before, after, (), hidden)


def _walk(before: Any, after: Any, path: tuple[str, ...], hidden: bool) -> Iterator[KeyChange]:
    if before == after:
        return
    if _is_mapping(before, after) and not _is_from_env(before) and not _is_from_env(after):
        b = before if isinstance(before, Mapping) else {}
        a = after if isinstance(after, Mapping) else {}
        for key in [*b, *(k for k in a if k not in b)]:
            yield from _walk(b.get(key, _ABSENT), a.get(key, _ABSENT), (*path, str(key)), hidden)
        return
    secret = hidden and any(path[: len(p)] == p and len(path) > len(p) for p in _HIDDEN)
    secret = secret or (hidden and path in _HIDDEN_FIELDS)
    yield KeyChange(key=".".join(path), before=_shown(before, secret), after=_shown(after, secret))


def _is_mapping(before: Any, after: Any) -> bool:
    return (isinstance(before, Mapping) or before is _ABSENT) and (isinstance(after, Mapping) or after is _ABSENT)


def _is_from_env(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"fromEnv"}


def _shown(value: Any, secret: bool) -> str | None:
    if value is _ABSENT:
        return None
    if _is_from_env(value):
        return f"fromEnv {value['fromEnv']}"
    if secret:
        return HIDDEN_VALUE
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def trigger_summary(trigger: Trigger | None) -> str:
    """`when in.a, in.b are all updated, cool-down 50m`, or `none`."""
    if trigger is None:
        return "none"
    tables = f"{trigger.tables[0]} is" if len(trigger.tables) == 1 else f"{', '.join(trigger.tables)} are all"
    return f"when {tables} updated, cool-down {format_duration(trigger.cooldown)}"


def notification_summary(notification: Notification) -> str:
    """`failed, warning → email data@example.com (overtime 50%)`."""
    events = ", ".join(sorted(e.value for e in notification.events))
    target = f"email {notification.email}" if notification.email else f"webhook {notification.webhook}"
    return f"{events} → {target} (overtime {notification.overtime_percent}%)"
