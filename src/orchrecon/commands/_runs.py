"""What `run` and `retry` share: resolving a definition and executing it in this process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping
from typing import TextIO

from orchrecon.app import App
from orchrecon.commands import _definitions as definitions
from orchrecon.documents.checks import EMAIL
from orchrecon.documents.durations import parse_duration
from orchrecon.errors import OrchreconError, UsageError
from orchrecon.execution.progress import Progress
from orchrecon.gitsource import GitError
from orchrecon.gitsource.remote import MIRROR
from orchrecon.notify import Notifier, Policy
from orchrecon.reconcile.publish import Publisher, desired_from_ledger
from orchrecon.runs.definition import RunDefinition
from orchrecon.runs.state import RunStatus


def current_definition(app: App, name: str) -> RunDefinition:
    """The orchestration as the working tree defines it now (without one, as the reconciler applied
    it); invalid or unknown ones are refused."""
    return definitions.load(app).definition(name)


def check_person(as_email: str | None) -> None:
    """Refuse an `--as` that is not an email address: it names the person a run notifies."""
    if as_email is not None and not EMAIL.fullmatch(as_email):
        raise UsageError(f"--as {as_email!r} is not an email address")


PROGRESS_INTERVAL = "ORCHRECON_PROGRESS_INTERVAL"
DEFAULT_PROGRESS_SECONDS = 30.0


def progress_interval(environ: Mapping[str, str]) -> float:
    """Seconds between the lines `run` prints for long tasks and waiting runs: $ORCHRECON_PROGRESS_INTERVAL,
    a duration (`30s`, `5m`) or a number of seconds (`0.5`); 0 turns those lines off."""
    text = environ.get(PROGRESS_INTERVAL, "").strip()
    if not text:
        return DEFAULT_PROGRESS_SECONDS
    try:
        value = float(text)
    except ValueError:
        try:
            value = parse_duration(text).total_seconds()
        except ValueError as exc:
            raise UsageError(f"{PROGRESS_INTERVAL}: {exc}") from None
    if not 0 <= value < float("inf"):
        raise UsageError(f"{PROGRESS_INTERVAL}: {text!r} is not a number of seconds of 0 or more")
    return value


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
    policy: Policy | None = None,
) -> int:
    """Request and run it here, printing progress; exit 0 for success or warning, else 1. Without a
    repository its tasks run in a temporary work tree of its revision (which the output names).
    Its notifications are sent after its end is shown, within `policy`'s budget (tests shorten it)."""
    definitions.require_revision(app, definition.revision, f"orchestration {definition.orchestration.name}")
    if not app.working_tree and definition.revision:
        mirror = app.state.source / MIRROR
        out.write(f"no repository here: revision {definition.revision[:12]} of {mirror}, in a temporary work tree\n")
    every = progress_interval(app.environ)

    async def tick(progress: Progress) -> None:
        while True:
            await asyncio.sleep(every)
            progress.tick(app.clock.now())

    async def main() -> RunStatus:
        watch_children_with_pidfd()
        progress = Progress(out, color=out.isatty(), every=every)
        runner = app.runner(max_parallel_jobs=definition.max_parallel_jobs, observer=progress, workdir=workdir)
        notifier = Notifier(
            ledger=app.ledger, store=app.store, clock=app.clock, environ=app.environ, log=_told(out), policy=policy
        )
        loop = asyncio.get_running_loop()

        def on_signal(signum: int, _frame: object) -> None:
            # Runs at the next bytecode, even inside `request` (unlike loop.add_signal_handler, whose
            # callback waits for the loop): a run interrupted before it starts is then never started.
            reason = f"interrupted by {signal.Signals(signum).name}"
            runner.stop_new_runs(reason)
            loop.call_soon_threadsafe(runner.cancel_all, reason)

        # Connected before the run starts, as a reconciler is: its tasks then start at once. A cluster that
        # cannot be reached is not waited for twice: its tasks fail with the reason.
        await runner.check_cluster()
        for sig in (signal.SIGINT, signal.SIGTERM):  # before the request: from then on a signal stops the run
            signal.signal(sig, on_signal)
        record = runner.request(definition, selected=selected, trigger=trigger, by=by, retry_of=retry_of)
        ticker = asyncio.create_task(tick(progress)) if every else None
        try:
            view = await notifier.watch(record["run"], runner.execute(record["run"]), record)
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
        if view.status not in (RunStatus.SUCCESS, RunStatus.WARNING):
            out.write(f"details: orchrecon show {view.id}\n")
        out.flush()
        await notifier.settle()
        await runner.close()
        return view.status

    with definitions.revision_trees(app) as workdir:
        status = asyncio.run(main())
    publish_run(app, definition.orchestration.name)
    if app.lineage is not None:
        app.lineage.close()  # while the ledger can still record what the catalogue did not take
    app.ledger.close()
    return 0 if status in (RunStatus.SUCCESS, RunStatus.WARNING) else 1


def _told(out: TextIO) -> Callable[[str, Mapping[str, object]], None]:
    """What `run` says of its notifications: one line each; a failure is a warning on stderr."""

    def log(event: str, fields: Mapping[str, object]) -> None:
        what = f"{fields['event']} to {fields.get('recipient')} by {fields.get('channel')}" if "event" in fields else ""
        if event == "notification sent":
            out.write(f"notified: {what}\n")
        elif "error" in fields:
            print(f"orchrecon: warning: {event}: {what}{': ' if what else ''}{fields['error']}", file=sys.stderr)

    return log


def publish_run(app: App, name: str) -> None:
    """Bring the orchestration's report, status file and the index up to date; a failure to do so is a
    warning, never a failed run (`report` rebuilds them)."""
    try:
        Publisher(app).publish(desired_from_ledger(app), [name])
    except (OSError, GitError, OrchreconError) as exc:  # a full disk, say: the run's record stands
        print(f"orchrecon: warning: reports not updated: {exc}", file=sys.stderr)
