"""`orchrecon logs RUN_ID [TASK] [--follow]`: a run's task logs, or one task's, as they grow."""

from __future__ import annotations

import argparse
import codecs
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from orchrecon.app import App, open_app
from orchrecon.commands import Subparsers
from orchrecon.errors import NotFoundError
from orchrecon.execution.recovery import recover
from orchrecon.executors.logtail import LogTail
from orchrecon.runs.state import PhaseView, RunView, StepStatus, TaskView

POLL_SECONDS = 0.1
RECOVER_SECONDS = 1.0  # how often a follower checks whether the run's process died
_UNFINISHED = (StepStatus.WAITING, StepStatus.PROCESSING)


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("logs", parents=[common])
    p.add_argument("run_id", metavar="RUN_ID", help="a run id or a unique prefix of one")
    p.add_argument("task", metavar="TASK", nargs="?", help="only this task's log")
    p.add_argument("-f", "--follow", action="store_true", help="print new lines until the task (or run) ends")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            run_id=a.run_id,
            task=a.task,
            follow=a.follow,
            out=sys.stdout,
            err=sys.stderr,
            environ=os.environ,
        )
    )


def run(
    *,
    repo: Path,
    state_dir: Path | None,
    run_id: str,
    task: str | None,
    follow: bool,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
) -> int:
    """Print the logs; 0 once they are printed (whatever the run's status), 2 for an unknown run or task."""
    app = open_app(repo, state_dir, environ=environ, read_only=True)
    view = app.run_view(run_id)
    if task is not None and view.task(task) is None:
        names = ", ".join(t.name for p in view.phases for t in p.tasks)
        raise NotFoundError(f"run {view.id} has no task {task!r} (its tasks: {names})")
    if follow:
        view = _Follower(app, view.id, task, out).run()
        t = view.task(task) if task else None
        if t is not None and t.log is None:
            err.write(f"orchrecon: task {t.name} of run {view.id} has no log ({_no_log(t)})\n")
    elif task is not None:
        _print_one(view, task, out, err)
    else:
        _print_all(view, out)
    return 0


def _print_one(view: RunView, name: str, out: TextIO, err: TextIO) -> None:
    t = view.task(name)
    assert t is not None
    if t.log is None or not Path(t.log).exists():
        err.write(f"orchrecon: task {name} of run {view.id} has no log ({_no_log(t)})\n")
        return
    _copy(Path(t.log), out)


def _print_all(view: RunView, out: TextIO) -> None:
    for n, (phase, t) in enumerate(_tasks(view)):
        has_log = t.log is not None and Path(t.log).exists()
        gap = "\n" if n else ""
        out.write(f"{gap}==> phase {phase.name}, task {t.name}: {t.status.value}{'' if has_log else ', no log'} <==\n")
        if t.log is not None and has_log:
            _copy(Path(t.log), out)


def _copy(path: Path, out: TextIO) -> None:
    text = path.read_bytes().decode(errors="replace")
    out.write(text if not text or text.endswith("\n") else text + "\n")
    out.flush()


def _no_log(t: TaskView) -> str:
    if t.log is not None:
        return f"{t.log} is gone"
    if t.status is StepStatus.WAITING:
        return "it has not started yet"
    if t.status is StepStatus.SKIPPED:
        return "it was skipped"
    return f"it never ran: {t.status.value}"


def _tasks(view: RunView) -> list[tuple[PhaseView, TaskView]]:
    return [(p, t) for p in view.phases for t in p.tasks]


@dataclass
class _Source:
    tail: LogTail
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))


class _Follower:
    """Prints what the task logs gain until the task (or, for every task, the run) is recorded ended.

    The ledger says when: an executor closes the log before its task's end is recorded, so one more read
    after that record is seen gets everything. With every task, output is shown as it comes, with a header
    whenever it comes from another task (as `tail -f` does with several files)."""

    def __init__(self, app: App, run_id: str, task: str | None, out: TextIO) -> None:
        self._app, self._run_id, self._task, self._out = app, run_id, task, out
        self._sources: dict[str, _Source] = {}
        self._shown: str | None = None  # the task whose output was printed last
        self._line_open = False  # that output did not end with a newline

    def run(self) -> RunView:
        """Follow to the end; returns the run as it was then."""
        next_recover = time.monotonic() + RECOVER_SECONDS
        while True:
            view = self._app.run_view(self._run_id)
            one = view.task(self._task) if self._task else None
            ended = view.status.finished or (one is not None and one.status not in _UNFINISHED)
            for phase, t in _tasks(view):
                if self._task in (None, t.name):
                    self._read(phase, t)
            if ended:
                break
            if time.monotonic() >= next_recover:
                recover(self._app.store, self._app.ledger, self._app.locks)  # its process may have died
                next_recover = time.monotonic() + RECOVER_SECONDS
            time.sleep(POLL_SECONDS)
        for source in self._sources.values():
            source.tail.close()
        return view

    def _read(self, phase: PhaseView, t: TaskView) -> None:
        if t.log is None:
            return  # not started yet
        source = self._sources.get(t.name)
        if source is None:
            source = self._sources[t.name] = _Source(LogTail(Path(t.log)))
        text = source.decoder.decode(source.tail.read())
        if not text:
            return
        if self._task is None and self._shown != t.name:
            start = "\n" if self._line_open else ""
            self._out.write(f"{start}==> phase {phase.name}, task {t.name} <==\n")
        self._shown, self._line_open = t.name, not text.endswith("\n")
        self._out.write(text)
        self._out.flush()
