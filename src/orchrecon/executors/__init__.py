"""Task executors: one small protocol, a command (subprocess) and an http implementation."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from orchrecon.documents.model import Configuration


class Outcome(enum.Enum):
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True, kw_only=True)
class TaskJob:
    """Everything an executor needs to run one task of one run."""

    run_id: str
    orchestration: str
    task: str
    config: Configuration
    parameters: Mapping[str, Any]  # the configuration's parameters with the task's deep-merged over them
    token: str  # the orchestration token: ORCHRECON_TOKEN / the token header; redacted from logs
    repo_root: Path  # commands run here unless run.cwd (relative to it) says otherwise
    log_path: Path  # the task's log; the executor creates it
    environ: Mapping[str, str]  # where {fromEnv: VAR} secrets are read, and the base environment of commands
    revision: str | None = None  # the commit the run's definition came from (None: a tree outside git)
    dirty: bool = False  # the files in repo_root differ from that commit
    # What the executor learned while it ran (a remote job's id and URL): the record of a task cancelled
    # before it returned a result carries it as its details.
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TaskResult:
    outcome: Outcome
    exit_code: int | None = None
    error: str | None = None  # one line for people; never contains the token
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. the remote job id and status
    # Awaited before the task's configuration is released: the task ended here, but its work may still go
    # on elsewhere (a worker the reconciler lost contact with) until this returns.
    hold: Callable[[], Awaitable[None]] | None = None


class MissingSecretError(Exception):
    """A `{fromEnv: VAR}` value whose variable is not set."""


@runtime_checkable
class Placing(Protocol):
    async def place(self, job: TaskJob) -> Mapping[str, Any]:
        """Decide where `job` runs before it is recorded as started; the fields say where (`worker`), for its
        `task.started` record. Empty: nothing to say (run then reports why it could not run)."""
        ...


class Executor(Protocol):
    async def run(self, job: TaskJob) -> TaskResult:
        """Run the task to its end and return how it went.

        A failure of the task (non-zero exit, HTTP error, timeout, missing secret) is a result, not an
        exception. Cancellation (asyncio.CancelledError) must stop the work — for a command, kill its
        whole process group — and then propagate.
        """
        ...
