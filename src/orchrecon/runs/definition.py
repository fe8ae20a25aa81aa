"""What a run runs: the resolved definition recorded with its request, and task selection rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchrecon.documents.loader import Document
from orchrecon.documents.model import (
    DEFAULT_MAX_PARALLEL_JOBS,
    Configuration,
    Orchestration,
    Project,
    build_configuration,
    build_orchestration,
    build_project,
)
from orchrecon.documents.result import Validation
from orchrecon.errors import UsageError
from orchrecon.runs.state import RunStatus, RunView, StepStatus


@dataclass(frozen=True, kw_only=True)
class RunDefinition:
    """An orchestration with the configurations its tasks use, as documents and as model objects."""

    orchestration: Orchestration
    configurations: Mapping[str, Configuration]
    max_parallel_jobs: int
    # {"orchestration": data, "configurations": {ref: data}, "project": data}; recorded verbatim. The project's
    # `smtp` and default `notifications` are what the run's notifications use, even when sent later (a retry,
    # a restarted reconciler); secrets in it are `{fromEnv}` references, resolved only when sending.
    documents: Mapping[str, Any]
    revision: str | None
    dirty: bool
    project: Project = field(default_factory=Project)  # runs recorded before it was: no smtp, no defaults
    # The orchestration's file, for positions in messages to the person starting a run; never kept by the
    # reconciler, whose definitions live long (a document holds its text and node tree).
    source: Document | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_validation(cls, validation: Validation, name: str, *, revision: str | None, dirty: bool) -> RunDefinition:
        orchestration = validation.orchestrations[name]
        refs = sorted({t.config for t in orchestration.tasks()})
        doc = validation.documents[validation.files[f"Orchestration/{name}"]]
        configs = {ref: validation.documents[validation.files[f"Configuration/{ref}"]].data for ref in refs}
        project_file = validation.files.get("Project/")
        project = validation.documents[project_file].data if project_file else {}
        return cls(
            orchestration=orchestration,
            configurations={ref: validation.configurations[ref] for ref in refs},
            max_parallel_jobs=validation.project.max_parallel_jobs,
            documents={"orchestration": doc.data, "configurations": configs, "project": project},
            revision=revision,
            dirty=dirty,
            project=validation.project,
        )

    @classmethod
    def from_request(cls, record: Mapping[str, Any]) -> RunDefinition:
        """The definition a run was requested with, to run it again exactly."""
        documents = record["definition"]
        return cls(
            orchestration=build_orchestration(documents["orchestration"]),
            configurations={ref: build_configuration(d) for ref, d in documents["configurations"].items()},
            max_parallel_jobs=int(record.get("maxParallelJobs", DEFAULT_MAX_PARALLEL_JOBS)),
            documents=documents,
            revision=record.get("revision"),
            dirty=bool(record.get("dirty", False)),
            project=build_project(documents.get("project") or {}),
        )


def select(
    orchestration: Orchestration,
    tasks: Sequence[str] = (),
    skip: Sequence[str] = (),
    *,
    source: Document | None = None,
) -> frozenset[str]:
    """The names of the tasks a manual run selects: `tasks` if given (else all), minus `skip`.

    Raises UsageError for an unknown task, a disabled one named in `tasks` (at its `enabled` in
    `source`, the orchestration's file, when given), and a selection that leaves no enabled task."""
    known = {t.name: t for t in orchestration.tasks()}
    unknown = [n for n in (*tasks, *skip) if n not in known]
    if unknown:
        raise UsageError(
            f"orchestration {orchestration.name} has no task {unknown[0]!r} (tasks: {', '.join(sorted(known))})"
        )
    disabled = [n for n in tasks if not known[n].enabled]
    if disabled:
        where = _enabled_position(orchestration, disabled[0], source)
        then = "to run it" if source else "and retry with --current"
        raise UsageError(
            f"task {disabled[0]!r} of {orchestration.name} is disabled (enabled: false{where}); enable it {then}"
        )
    chosen = (set(tasks) if tasks else set(known)) - set(skip)
    if (tasks or skip) and not any(known[n].enabled for n in chosen):
        raise UsageError(f"nothing to run: the selection leaves no enabled task of {orchestration.name}")
    return frozenset(chosen)


def _enabled_position(orchestration: Orchestration, task: str, source: Document | None) -> str:
    for i, phase in enumerate(orchestration.phases):
        for j, t in enumerate(phase.tasks):
            if source is not None and t.name == task:
                line, col = source.position(("spec", "phases", i, "tasks", j, "enabled"))
                return f" at {source.file}:{line}:{col}"
    return " in the run's recorded definition"


def retry_selection(old: RunView, orchestration: Orchestration) -> frozenset[str]:
    """Keboola's default for a retry: every enabled task after a success; otherwise each task that
    failed, and every enabled task of the phases that failed or were not executed."""
    enabled = {t.name for t in orchestration.tasks() if t.enabled}
    if old.status is RunStatus.SUCCESS:
        return frozenset(enabled)
    chosen = set(_failed_tasks(old))
    for phase in old.phases:
        if phase.status in (StepStatus.ERROR, StepStatus.NOT_EXECUTED, StepStatus.TERMINATED):
            chosen.update(t.name for t in phase.tasks)
    return frozenset(chosen & enabled)


def _failed_tasks(run: RunView) -> set[str]:
    bad = (StepStatus.ERROR, StepStatus.TERMINATED)
    return {t.name for p in run.phases for t in p.tasks if t.status in bad}


def phases_field(orchestration: Orchestration, selected: frozenset[str]) -> list[dict[str, Any]]:
    """The `phases` of a `run.requested` record: every task, whether it is enabled and selected."""
    return [
        {
            "name": phase.name,
            "tasks": [
                {
                    "name": t.name,
                    "config": t.config,
                    "enabled": t.enabled,
                    "selected": t.name in selected,
                    "continueOnFailure": t.continue_on_failure,
                }
                for t in phase.tasks
            ],
        }
        for phase in orchestration.phases
    ]
