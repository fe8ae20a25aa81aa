"""What `run` and `retry` share: resolving a definition and executing it in this process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import TextIO

from orchrecon.app import App
from orchrecon.documents.repository import validate_tree
from orchrecon.errors import InvalidDocumentsError, NotFoundError
from orchrecon.execution.progress import Progress
from orchrecon.gitsource import GitError, working_tree_revision
from orchrecon.reconcile.publish import Publisher, desired_from_ledger
from orchrecon.runs.definition import RunDefinition
from orchrecon.runs.state import RunStatus


def working_tree_definition(app: App, name: str) -> RunDefinition:
    """The orchestration as the working tree defines it now; invalid or unknown ones are refused."""
    validation = validate_tree(app.repo)
    if name not in validation.orchestrations:
        mine = [d for d in validation.errors if d.file in (f"orchestrations/{name}.yaml", f"orchestrations/{name}.yml")]
        if mine:
            raise InvalidDocumentsError(mine)
        known = ", ".join(sorted(validation.orchestrations)) or "none"
        raise NotFoundError(f"no valid orchestration {name!r} (valid orchestrations: {known})")
    revision, dirty = working_tree_revision(app.repo)
    return RunDefinition.from_validation(validation, name, revision=revision, dirty=dirty)


def watch_children_with_pidfd() -> None:
    """Python 3.11 waits for each child process in a thread of its own; a pidfd in the event loop is
    cheaper per task (and what 3.12 does by default)."""
    if sys.version_info < (3, 12) and hasattr(os, "pidfd_open"):
        try:
            os.close(os.pidfd_open(os.getpid()))
        except OSError:
            return  # kernel without pidfd
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)


def execute(
    app: App,
    definition: RunDefinition,
    *,
    selected: frozenset[str],
    trigger: str,
    by: str | None,
    retry_of: str | None,
    out: TextIO,
) -> int:
    """Request and run it here, printing progress; exit 0 for success or warning, else 1."""

    async def main() -> RunStatus:
        watch_children_with_pidfd()
        progress = Progress(out, color=out.isatty())
        runner = app.runner(max_parallel_jobs=definition.max_parallel_jobs, observer=progress)
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, _frame: object) -> None:
            # Runs at the next bytecode, even inside `request` (unlike loop.add_signal_handler, whose
            # callback waits for the loop): a run interrupted before it starts is then never started.
            reason = f"interrupted by {signal.Signals(signum).name}"
            runner.stop_new_runs(reason)
            loop.call_soon_threadsafe(runner.cancel_all, reason)

        for sig in (signal.SIGINT, signal.SIGTERM):  # before the request: from then on a signal stops the run
            signal.signal(sig, on_signal)
        record = runner.request(definition, selected=selected, trigger=trigger, by=by, retry_of=retry_of)
        view = await runner.execute(record["run"])
        if view.status not in (RunStatus.SUCCESS, RunStatus.WARNING):
            out.write(f"details: orchrecon show {view.id}\n")
        return view.status

    status = asyncio.run(main())
    publish_run(app, definition.orchestration.name)
    app.ledger.close()
    return 0 if status in (RunStatus.SUCCESS, RunStatus.WARNING) else 1


def publish_run(app: App, name: str) -> None:
    """Bring the orchestration's report, status file and the index up to date; a failure to do so is a
    warning, never a failed run (`report` rebuilds them)."""
    try:
        Publisher(app).publish(desired_from_ledger(app), [name])
    except (OSError, GitError) as exc:
        print(f"orchrecon: warning: reports not updated: {exc}", file=sys.stderr)
