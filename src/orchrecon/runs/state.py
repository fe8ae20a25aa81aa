"""Run status derivation: fold ledger records into views of runs, phases and tasks. Pure."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class RunStatus(enum.Enum):
    WAITING = "waiting"
    PROCESSING = "processing"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"
    CANCELLED = "cancelled"  # ended before it started
    TERMINATED = "terminated"  # stopped while processing

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.WAITING, RunStatus.PROCESSING)


class StepStatus(enum.Enum):
    """The status of a phase or a task (`warning` only for phases)."""

    WAITING = "waiting"
    PROCESSING = "processing"
    SUCCESS = "success"
    WARNING = "warning"
    ERROR = "error"
    SKIPPED = "skipped"  # disabled or deselected
    NOT_EXECUTED = "not-executed"  # its phase never started
    TERMINATED = "terminated"


@dataclass
class TaskView:
    name: str
    config: str
    enabled: bool
    selected: bool
    continue_on_failure: bool
    status: StepStatus
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    error: str | None = None
    log: str | None = None
    worker: str | None = None  # the Dask worker's address (`tcp://10.0.0.5:39211`); None when it ran locally

    @property
    def runnable(self) -> bool:
        return self.enabled and self.selected


@dataclass
class PhaseView:
    name: str
    tasks: list[TaskView]
    status: StepStatus = StepStatus.WAITING
    started_at: str | None = None
    finished_at: str | None = None


@dataclass
class RunView:
    id: str
    orchestration: str
    requested_seq: int
    requested_at: str
    trigger: str
    by: str | None
    retry_of: str | None
    revision: str | None
    dirty: bool
    phases: list[PhaseView]
    status: RunStatus = RunStatus.WAITING
    started_at: str | None = None
    finished_at: str | None = None
    reason: str | None = None
    pid: int | None = None
    cancel_requested: bool = False
    _by_name: dict[str, TaskView] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {t.name: t for p in self.phases for t in p.tasks}

    def task(self, name: str) -> TaskView | None:
        return self._by_name.get(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "orchestration": self.orchestration,
            "status": self.status.value,
            "trigger": self.trigger,
            "by": self.by,
            "retryOf": self.retry_of,
            "revision": self.revision,
            "dirty": self.dirty,
            "requestedAt": self.requested_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "reason": self.reason,
            "phases": [
                {
                    "name": p.name,
                    "status": p.status.value,
                    "startedAt": p.started_at,
                    "finishedAt": p.finished_at,
                    "tasks": [
                        {
                            "name": t.name,
                            "config": t.config,
                            "status": t.status.value,
                            "startedAt": t.started_at,
                            "finishedAt": t.finished_at,
                            "exitCode": t.exit_code,
                            "error": t.error,
                            "log": t.log,
                            "worker": t.worker,
                        }
                        for t in p.tasks
                    ],
                }
                for p in self.phases
            ],
        }


def phase_status(tasks: Iterable[TaskView]) -> StepStatus:
    """A finished phase: error if a task failed without continueOnFailure, warning if one failed with it."""
    tasks = list(tasks)
    failed = [t for t in tasks if t.status in (StepStatus.ERROR, StepStatus.TERMINATED)]
    if any(t.status is StepStatus.TERMINATED for t in failed):
        return StepStatus.TERMINATED
    if any(not t.continue_on_failure for t in failed):
        return StepStatus.ERROR
    if failed:
        return StepStatus.WARNING
    if tasks and all(t.status is StepStatus.SKIPPED for t in tasks):
        return StepStatus.SKIPPED
    return StepStatus.SUCCESS


def run_status(phases: Iterable[PhaseView]) -> RunStatus:
    """A run whose phases have all ended (or stopped at an error)."""
    statuses = [p.status for p in phases]
    if StepStatus.TERMINATED in statuses:
        return RunStatus.TERMINATED
    if StepStatus.ERROR in statuses:
        return RunStatus.ERROR
    if StepStatus.WARNING in statuses:
        return RunStatus.WARNING
    return RunStatus.SUCCESS


def new_run(record: Mapping[str, Any]) -> RunView:
    """The view of a run as requested (record type `run.requested`)."""
    return RunView(
        id=record["run"],
        orchestration=record["orchestration"],
        requested_seq=record["seq"],
        requested_at=record["time"],
        trigger=record.get("trigger", "manual"),
        by=record.get("by"),
        retry_of=record.get("retryOf"),
        revision=record.get("revision"),
        dirty=bool(record.get("dirty", False)),
        phases=[
            PhaseView(
                name=phase["name"],
                tasks=[
                    TaskView(
                        name=t["name"],
                        config=t["config"],
                        enabled=t["enabled"],
                        selected=t["selected"],
                        continue_on_failure=t["continueOnFailure"],
                        status=StepStatus.WAITING if t["enabled"] and t["selected"] else StepStatus.SKIPPED,
                    )
                    for t in phase["tasks"]
                ],
            )
            for phase in record["phases"]
        ],
    )


def apply(view: RunView, record: Mapping[str, Any]) -> None:
    """Fold one record of this run into its view."""
    kind, time = record["type"], record["time"]
    if kind == "run.started":
        view.status = RunStatus.PROCESSING
        view.started_at = time
        view.pid = record.get("pid")
    elif kind == "run.cancel-requested":
        view.cancel_requested = True
    elif kind == "phase.started":
        phase = _phase(view, record["phase"])
        phase.status, phase.started_at = StepStatus.PROCESSING, time
    elif kind == "phase.finished":
        phase = _phase(view, record["phase"])
        phase.status, phase.finished_at = StepStatus(record["status"]), time
    elif kind == "task.started":
        task = _task(view, record["task"])
        task.status, task.started_at, task.log = StepStatus.PROCESSING, time, record.get("log")
        task.worker = record.get("worker")
    elif kind == "task.finished":
        task = _task(view, record["task"])
        task.status, task.finished_at = StepStatus(record["status"]), time
        task.exit_code, task.error = record.get("exitCode"), record.get("error")
    elif kind == "run.finished":
        _finish(view, RunStatus(record["status"]), time, record.get("reason"))


def _phase(view: RunView, name: str) -> PhaseView:
    return next(p for p in view.phases if p.name == name)


def _task(view: RunView, name: str) -> TaskView:
    task = view.task(name)
    assert task is not None, name
    return task


def _finish(view: RunView, status: RunStatus, time: str, reason: str | None) -> None:
    view.status, view.finished_at, view.reason = status, time, reason
    for phase in view.phases:
        for task in phase.tasks:
            if task.status is StepStatus.PROCESSING:
                task.status, task.finished_at = StepStatus.TERMINATED, time
            elif task.status is StepStatus.WAITING:
                task.status = StepStatus.NOT_EXECUTED
        if phase.status is StepStatus.PROCESSING:
            phase.status, phase.finished_at = StepStatus.TERMINATED, time
        elif phase.status is StepStatus.WAITING:
            runnable = any(t.runnable for t in phase.tasks)
            phase.status = StepStatus.NOT_EXECUTED if runnable else StepStatus.SKIPPED


RUN_RECORDS = frozenset(
    {
        "run.requested",
        "run.started",
        "run.cancel-requested",
        "phase.started",
        "phase.finished",
        "task.started",
        "task.finished",
        "run.finished",
    }
)


def fold(records: Iterable[Mapping[str, Any]], runs: dict[str, RunView] | None = None) -> dict[str, RunView]:
    """Fold run records into views by run id (continuing from `runs` when given)."""
    runs = {} if runs is None else runs
    for record in records:
        kind = record.get("type")
        if kind not in RUN_RECORDS:
            continue
        if kind == "run.requested":
            runs[record["run"]] = new_run(record)
        elif (view := runs.get(record.get("run", ""))) is not None:
            apply(view, record)
    return runs
