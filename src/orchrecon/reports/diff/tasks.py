"""Phases and tasks of two definitions of an orchestration matched: added, removed, renamed, moved, changed."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping, Sequence

from orchrecon.documents.model import Orchestration, Task
from orchrecon.reports.diff.keys import key_changes
from orchrecon.reports.diff.model import Change, PhaseDiff, Place, TaskDiff, changed_pair


def phase_diffs(before: list[str], after: list[str]) -> Iterator[PhaseDiff]:
    """Phases added, moved (out of the order the others keep) and removed, matched by name."""
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
            config=changed_pair(old_task.config, task.config),
            enabled=changed_pair(old_task.enabled, task.enabled),
            continue_on_failure=changed_pair(old_task.continue_on_failure, task.continue_on_failure),
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
