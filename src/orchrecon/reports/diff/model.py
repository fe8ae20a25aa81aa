"""The facts of a diff: what changed, down to tasks, keys and fire times, and the one-line verdict."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orchrecon.documents.model import Orchestration, Schedule, Task
from orchrecon.errors import Diagnostic
from orchrecon.scheduling.firetimes import Transition


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


def changed_pair(before: Any, after: Any) -> Pair | None:
    """The two values, or None when they are equal."""
    return None if before == after else Pair(before, after)


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
