"""Recording the end of runs whose process died: what every command that opens the state does first, so it
imports none of the runner."""

from __future__ import annotations

import contextlib

from orchrecon.errors import StorageError
from orchrecon.execution.orphans import kill_run_processes
from orchrecon.runs.state import RunStatus, RunView, StepStatus
from orchrecon.store import endnotes
from orchrecon.store.ports import LedgerPort, Lock, LockSpace
from orchrecon.store.runstore import RunStore

_ENDS = frozenset(s.value for s in RunStatus if s.finished)  # what an end note may say


def _hold_configurations(view: RunView, locks: LockSpace) -> list[Lock]:
    """The locks of the configurations `view`'s processing tasks ran, those that are free, taken."""
    taken = []
    for config in sorted({t.config for p in view.phases for t in p.tasks if t.status is StepStatus.PROCESSING}):
        lock = locks.config(config)
        with contextlib.suppress(StorageError):
            if lock.try_acquire({"run": view.id, "recovering": True}):
                taken.append(lock)
    return taken


def recover(store: RunStore, ledger: LedgerPort, locks: LockSpace) -> list[str]:
    """Record runs whose owning process died as ended: terminated if they had started, cancelled if
    not. A run's owner holds its run lock until the run is recorded finished, so a lock we can take
    belongs to a dead process. While the ledger has damaged lines it records nothing: a run whose
    `run.finished` is damaged would look unfinished.

    A process the ledger refused leaves the end it could not record in the run's lock file (see
    `endnotes`); that end is recorded then. Where nothing can be written (a full or read-only state
    directory), the run stays unrecorded, for a later command to record."""
    recovered: list[str] = []
    for summary in store.unfinished():
        if store.damage:
            break
        lock = locks.run(summary.id)
        try:
            if not lock.try_acquire():
                continue
        except StorageError:
            continue
        recorded = False
        try:
            view = store.get(summary.id)
            if store.damage:  # reading it may have found damage
                continue
            if view is None or view.status.finished:
                recorded = True
                continue
            pid = f"process {view.pid}" if view.pid else "its process"
            kill_run_processes(summary.id)  # its tasks outlive it in their own sessions; free their configurations
            if view.status is RunStatus.PROCESSING:
                status, reason = RunStatus.TERMINATED.value, f"{pid} died while the run was processing"
            else:
                status, reason = RunStatus.CANCELLED.value, f"{pid} died before the run started"
            repair = store.last_repair()
            if repair is not None and repair[0] > view.requested_seq:  # its end may be among the moved lines
                reason = (
                    f"no record of how it ended: ledger repair (seq {repair[0]}) moved damaged lines aside, "
                    f"see ledger/{repair[1]}; {pid} is gone"
                )
            note = endnotes.read(lock.path)  # the process's own word on how it ended beats any guess
            if note is not None and note["status"] in _ENDS:
                status, reason = note["status"], str(note.get("reason", ""))
            # Its tasks' configurations stay locked until its end is recorded: on a shared database they may have
            # been freed with the dead holder's session, and no new task of them starts before the record.
            held = _hold_configurations(view, locks)
            try:
                ledger.append_one("run.finished", run=summary.id, status=status, reason=reason or None)
            except StorageError:
                continue
            finally:
                for config in held:
                    config.release()
            recorded = True
            recovered.append(summary.id)
        finally:
            lock.release(remove=recorded)
    if recovered:
        with contextlib.suppress(StorageError):  # recorded; whether durably is up to the disk
            ledger.sync()
    return recovered
