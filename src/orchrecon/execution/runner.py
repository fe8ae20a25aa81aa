"""The runner: a run's phases strictly in order, each phase's tasks in parallel, every step recorded.

Serialization holds across processes through file locks: a run waits for its orchestration's lock
and for every earlier request of that orchestration to end; a task waits for its configuration's
lock. Every change of state is a ledger record, appended before anyone is told about it.

The observer gets each record, and also progress events that are never written to the ledger (their
`type` starts with `progress.`): `progress.run-waiting` (the run another run waits for) and
`progress.task-waiting` (who holds the configuration lock a task waits for), `progress.task-holding` (a task
that ended keeps its configuration locked: its command may still run on a worker the cluster lost touch with).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchrecon.clock import Clock, format_time
from orchrecon.documents.model import Configuration, Phase, Task, deep_merge
from orchrecon.errors import StorageError
from orchrecon.execution.recovery import recover
from orchrecon.executors import Executor, Outcome, Placing, TaskJob
from orchrecon.notify.lineage import Attempt, Lineage
from orchrecon.runs import state as runstate
from orchrecon.runs.definition import RunDefinition, phases_field
from orchrecon.runs.state import RunStatus, RunView, StepStatus
from orchrecon.store import endnotes
from orchrecon.store.ledger import Position, Record
from orchrecon.store.ports import LedgerPort, Lock, LockSpace
from orchrecon.store.runstore import RunStore, RunSummary
from orchrecon.store.state import StateDir
from orchrecon.store.tokens import TokenStore

WAIT_POLL_SECONDS = 0.05
WAIT_LOOK_SECONDS = 0.5  # how often a waiting run looks up which run it waits for
CANCEL_POLL_SECONDS = 0.1

Observer = Callable[[Record], None]


# Given a run's id and the records appended since a position, the records deciding that run (None: not to run).
Decision = Callable[[str, list[Record]], Sequence[Mapping[str, Any]] | None]


@dataclass(kw_only=True)
class _Active:
    view: RunView
    definition: RunDefinition
    log_dir: Path
    root: Path = Path()  # the files of its revision, set when it starts
    token: str = ""  # read when the run starts, so a rotation while it waits applies
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""
    fault: StorageError | None = None  # the first record of this run the ledger refused
    ending: bool = False  # `_finish` was called: its outcome stands
    waiting_for: str = ""  # the run it was last said to wait for
    cause: Mapping[str, Any] | None = None  # what started it, from its request
    turn: asyncio.Event = field(default_factory=asyncio.Event)  # set when it heads its orchestration's queue here


class Runner:
    def __init__(
        self,
        *,
        ledger: LedgerPort,
        locks: LockSpace,
        store: RunStore,
        state: StateDir,
        clock: Clock,
        executors: Mapping[str, Executor],
        tokens: TokenStore,
        environ: Mapping[str, str],
        workdir: Callable[[str | None], Path],
        max_parallel_jobs: int,
        observer: Observer | None = None,
        lineage: Lineage | None = None,
    ) -> None:
        self._lineage = lineage  # an OpenLineage event per task attempt's start and end (--openlineage-url)
        self._ledger = ledger
        self._locks = locks
        self._store = store
        self._state = state
        self._clock = clock
        self._executors = executors
        self._tokens = tokens
        self._environ = environ
        self._workdir = workdir  # a revision's files, where its tasks run
        self._slots = asyncio.Semaphore(max_parallel_jobs)
        self._limit = max_parallel_jobs
        self._shrinking: set[asyncio.Task[object]] = set()  # slots taken out of use by `resize`
        self._observer = observer
        self._owned: dict[str, Lock] = {}
        self._requests: dict[str, tuple[Record, Position]] = {}
        self._active: dict[str, _Active] = {}
        self._pending_cancels: dict[str, str] = {}  # requested here, cancelled before `execute` began
        self._stop_reason: str | None = None  # set by `cancel_all`: nothing starts any more
        self._config_locks: dict[str, Lock] = {}  # kept open: one open(2) per configuration, not per task
        # One reader follows the ledger for cancel requests of every run executing here: a reader per run
        # would decode every record once per run (with 200 runs waiting, most of the loop's time).
        self._watched: dict[str, _Active] = {}
        # Runs waiting here for their orchestration, in request order: only the first one polls the lock,
        # so a hundred waiting runs cost what one does.
        self._queues: dict[str, list[_Active]] = {}
        self._cancels_from = Position()
        self._cancel_reader: asyncio.Task[None] | None = None

    # -- requesting ----------------------------------------------------------------------------------

    def request(
        self,
        definition: RunDefinition,
        *,
        selected: frozenset[str],
        trigger: str,
        by: str | None = None,
        retry_of: str | None = None,
        cause: Mapping[str, Any] | None = None,
    ) -> Record:
        """Record a new run as requested (durably) and own it; `execute` then runs it. `cause` says what
        started it beyond `trigger` and `by` (the schedule and slot, the trigger's tables, the API token)."""
        requested = self.request_decided(
            definition, selected=selected, trigger=trigger, by=by, retry_of=retry_of, cause=cause
        )
        assert requested is not None
        return requested

    def request_decided(
        self,
        definition: RunDefinition,
        *,
        selected: frozenset[str],
        trigger: str,
        by: str | None = None,
        retry_of: str | None = None,
        cause: Mapping[str, Any] | None = None,
        decision: Decision | None = None,
        since: Position | None = None,
    ) -> Record | None:
        """`request`, appended in one append with the decision that makes it: `decision(run_id, seen)`, given the
        records appended since `since` (none are appended in between), returns the records to append before the
        request (a schedule slot fired, a trigger fired), or None when the run is not to be requested after all
        (another evaluator decided it already): then nothing is appended and None is returned. A crash can then
        never leave a decision without its run, or a run without its decision."""
        run_id = self._new_id()
        lock = self._locks.run(run_id)
        # Taken before the record exists, so recovery never mistakes it for an orphan; held already, the
        # id is another run's (two requests in one second drew the same random part): draw again.
        while not lock.try_acquire():
            run_id = self._new_id()
            lock = self._locks.run(run_id)
        request = {
            "type": "run.requested",
            "run": run_id,
            "orchestration": definition.orchestration.name,
            "trigger": trigger,
            "by": by,
            "retryOf": retry_of,
            "revision": definition.revision,
            "dirty": definition.dirty,
            "maxParallelJobs": definition.max_parallel_jobs,
            "phases": phases_field(definition.orchestration, selected),
            "definition": dict(definition.documents),
            **({"cause": dict(cause)} if cause else {}),
        }

        def decide(seen: list[Record]) -> list[Mapping[str, Any]]:
            assert decision is not None
            decided = decision(run_id, seen)
            return [] if decided is None else [*decided, request]

        try:
            endnotes.reserve(lock.path)  # a run whose end could go unexplained is not started
            if decision is None:
                written, position = self._ledger.append_at([request])
            else:
                written, position = self._ledger.append_guarded(since or self._ledger.end(), decide)
        except StorageError:
            lock.release(remove=True)  # nothing was recorded
            raise
        if not written:
            lock.release(remove=True)
            return None
        record = written[-1]
        self._owned[run_id] = lock
        try:
            self._ledger.sync()
        except StorageError as exc:  # recorded, perhaps not durably: it ends here, with the cause
            self._give_up(run_id, {"status": RunStatus.CANCELLED.value, "reason": exc.reason})
            raise
        self._requests[run_id] = (record, position)
        self._notify(record)
        return record

    def _new_id(self) -> str:
        return self._clock.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)

    def cancel(self, run_id: str, reason: str) -> bool:
        """Stop a run this process owns; False if it is not one of them."""
        active = self._active.get(run_id)
        if active is None:
            if run_id not in self._requests:
                return False
            self._pending_cancels.setdefault(run_id, reason)
            return True
        active.reason = active.reason or reason
        active.cancel.set()
        return True

    def live(self, run_id: str) -> tuple[RunView, Mapping[str, Any] | None] | None:
        """The view of a run executing (or waiting) here, as its records made it, with its cause; None
        if it is not one of them. The API answers from it without reading the ledger."""
        active = self._active.get(run_id)
        return None if active is None else (active.view, active.cause)

    def stop_new_runs(self, reason: str) -> None:
        """From now on every run this process would start ends `cancelled` instead. Only assigns an
        attribute, so a signal handler may call it at any point."""
        self._stop_reason = self._stop_reason or reason

    def cancel_all(self, reason: str) -> None:
        self.stop_new_runs(reason)
        for run_id in [*self._active, *self._requests]:
            self.cancel(run_id, reason)

    def resize(self, max_parallel_jobs: int) -> None:
        """Change how many tasks may run at once (a new revision's `maxParallelJobs`); tasks already
        running go on, new ones start within the new limit."""
        delta, self._limit = max_parallel_jobs - self._limit, max_parallel_jobs
        for _ in range(delta):
            self._slots.release()
        for _ in range(-delta):  # hold the surplus slots as they come free; the hot path stays a plain semaphore
            taken = asyncio.get_running_loop().create_task(self._slots.acquire())
            self._shrinking.add(taken)

    def cluster_status(self) -> dict[str, Any] | None:
        """What the cluster the tasks run on says of itself (scheduler, reachable, workers); None: they run here."""
        status = getattr(self._executors.get("command"), "status", None)
        return status() if callable(status) else None

    async def check_cluster(self) -> None:
        """Connect to the cluster (if tasks run on one) so that its status is known before a task needs it."""
        check = getattr(self._executors.get("command"), "check", None)
        if callable(check):
            await check()

    async def close(self) -> None:
        """Let go of what the executors hold open (a cluster's connection)."""
        for executor in self._executors.values():
            close = getattr(executor, "close", None)
            if callable(close):
                await close()

    # -- executing -----------------------------------------------------------------------------------

    async def execute(self, run_id: str) -> RunView:
        """Run a requested run this process owns to its end; returns its final view.

        Raises `StorageError` when a file the run needs cannot be written: its running tasks are stopped,
        no later phase starts, and its end is recorded with that cause, now if the ledger takes it, else
        by the next command's recovery (from the note the run leaves in its lock file).
        """
        if run_id in self._requests:
            record, position = self._requests.pop(run_id)
            cancelled = False
        else:  # requested elsewhere: a cancel may already be recorded before we start following
            position = self._ledger.end()
            found, view = self._store.request(run_id), self._store.get(run_id)
            if found is None or view is None:
                raise KeyError(run_id)
            record, cancelled = found, view.cancel_requested
        active = _Active(
            view=runstate.new_run(record),
            definition=RunDefinition.from_request(record),
            log_dir=self._state.logs / run_id,
            cause=record.get("cause"),
        )
        active.view.cancel_requested = cancelled
        self._active[run_id] = active
        pending = self._pending_cancels.pop(run_id, None) or self._stop_reason
        if cancelled or pending is not None:
            self.cancel(run_id, pending or "cancelled")
        self._watch_cancel_requests(active, position)
        lock = self._locks.orchestration(active.view.orchestration)
        try:
            try:
                await self._execute_active(active, lock)
            except Exception as exc:
                fault = active.fault or _storage_error(exc)
                if fault is None or active.ending:
                    raise
                active.fault = fault
                self._finish(active, RunStatus.TERMINATED)
            return active.view
        finally:
            self._watched.pop(run_id, None)
            lock.release()
            del self._active[run_id]
            try:
                await self._ledger.sync_async()
            except StorageError:
                if active.fault is None:
                    raise
            finally:
                owned = self._owned.pop(run_id, None)
                if owned is not None:
                    owned.release(remove=active.view.status.finished)  # else its note waits for recovery

    async def _execute_active(self, active: _Active, lock: Lock) -> None:
        if not await self._wait_turn(active, lock):
            self._finish(active, RunStatus.CANCELLED, active.reason)
            return
        try:
            active.token = self._tokens.get(active.view.orchestration)
        except StorageError as exc:
            self._finish(active, RunStatus.ERROR, f"cannot read the orchestration's token: {exc.reason}")
            return
        try:
            active.root = self._workdir(active.definition.revision)
        except Exception as exc:  # e.g. a remote revision that cannot be checked out: the run fails, nothing else
            reason = f"cannot prepare the files of revision {active.definition.revision}: {exc}"
            self._finish(active, RunStatus.ERROR, reason)
            return
        self._append(active.view, "run.started", pid=os.getpid())
        work = asyncio.create_task(self._run_phases(active))
        stop = asyncio.create_task(active.cancel.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not work.done():
            work.cancel()
        try:
            status = await _outcome(work)
        finally:
            stop.cancel()
        if active.fault is not None:
            raise active.fault
        if status is None:
            self._finish(active, RunStatus.TERMINATED, active.reason)
        else:
            self._finish(active, status)

    def _finish(self, active: _Active, status: RunStatus, reason: str | None = None) -> None:
        """Record the run's end. After a record the ledger refused, the end is that refusal: the run is
        terminated (cancelled if it never started) with its cause as the reason, and the fault is raised."""
        active.ending = True
        fields: dict[str, Any] = {"status": status.value}
        if reason:
            fields["reason"] = reason
        if active.fault is None:
            try:
                self._append(active.view, "run.finished", **fields)
                return
            except StorageError as exc:  # it did end so; only the record of it is late
                fields["reason"] = f"{reason}; " if reason else ""
                fields["reason"] += f"recorded late: {exc.reason}"
        else:
            started = active.view.status is RunStatus.PROCESSING
            ended = RunStatus.TERMINATED if started else RunStatus.CANCELLED
            fields = {"status": ended.value, "reason": active.fault.reason}
        fault = active.fault
        assert fault is not None
        try:
            record = self._ledger.append_one("run.finished", run=active.view.id, **fields)
        except StorageError:
            self._give_up(active.view.id, fields)
            raise fault from None
        runstate.apply(active.view, record)
        self._notify(record)
        raise fault

    def _give_up(self, run_id: str, fields: dict[str, Any]) -> None:
        """Leave the run's end, which the ledger refused, in its lock file for the next recovery."""
        owned = self._owned.get(run_id)
        if owned is not None:
            endnotes.leave(owned.path, fields)

    async def _wait_turn(self, active: _Active, lock: Lock) -> bool:
        """Wait until this run holds its orchestration's lock and no earlier request is still pending."""
        view = active.view
        queue = self._queues.setdefault(view.orchestration, [])
        bisect.insort(queue, active, key=lambda a: a.view.requested_seq)
        try:
            return await self._wait_in(active, queue, lock)
        finally:
            queue.remove(active)
            if queue:
                queue[0].turn.set()
            else:
                del self._queues[view.orchestration]

    async def _wait_in(self, active: _Active, queue: list[_Active], lock: Lock) -> bool:
        view = active.view
        loop = asyncio.get_running_loop()
        next_look = 0.0

        def tell() -> None:  # only to tell people, now and then
            nonlocal next_look
            if self._observer is not None and loop.time() >= next_look:
                self._say_waiting(active, self._earlier(view))
                next_look = loop.time() + WAIT_LOOK_SECONDS

        while not active.cancel.is_set():
            if queue[0] is not active:  # an earlier run of this process waits too: this one's turn comes after
                tell()
                active.turn.clear()  # set when it headed the queue before an earlier run was put ahead of it
                await _first_of(active.turn, active.cancel, timeout=WAIT_LOOK_SECONDS)
                continue
            if lock.try_acquire():
                earlier = self._earlier(view)
                if not earlier:
                    return True
                lock.release()
                recover(self._store, self._ledger, self._locks)  # an earlier run's process may have died
                self._say_waiting(active, earlier)
            else:
                tell()
            await asyncio.sleep(WAIT_POLL_SECONDS)
        return False

    def _earlier(self, view: RunView) -> list[RunSummary]:
        return [r for r in self._store.unfinished(view.orchestration) if r.seq < view.requested_seq]

    def _say_waiting(self, active: _Active, earlier: list[RunSummary]) -> None:
        """Tell the observer which run this one waits for (the processing one, else the oldest request)."""
        blocker = next((r for r in earlier if r.status is RunStatus.PROCESSING), earlier[0] if earlier else None)
        if self._observer is None or blocker is None or blocker.id == active.waiting_for:
            return
        active.waiting_for = blocker.id
        other = self._store.get(blocker.id)
        self._notify(
            {
                "type": "progress.run-waiting",
                "time": format_time(self._clock.now()),
                "run": active.view.id,
                "for": blocker.id,
                "status": blocker.status.value,
                "trigger": blocker.trigger,
                "by": other.by if other else None,
                "startedAt": blocker.started_at,
                "ahead": len(earlier),
            }
        )

    def _watch_cancel_requests(self, active: _Active, position: Position) -> None:
        """Cancel `active` when the ledger after `position` holds a `run.cancel-requested` of it (`orchrecon
        cancel`, the API). The shared reader goes back to `position` if it is past it: a record read twice
        only cancels twice, which changes nothing."""
        if not self._watched or position < self._cancels_from:
            self._cancels_from = position
        self._watched[active.view.id] = active
        if self._cancel_reader is None:
            self._cancel_reader = asyncio.create_task(self._read_cancel_requests())

    async def _read_cancel_requests(self) -> None:
        try:
            while self._watched:
                await asyncio.sleep(CANCEL_POLL_SECONDS)
                # A damaged line is passed over: these runs go on recording what is true, and every command
                # that opens the ledger reports the damage.
                for after, record in self._ledger.read(self._cancels_from, on_damage=lambda _: None):
                    self._cancels_from = after
                    if record.get("type") != "run.cancel-requested":
                        continue
                    active = self._watched.get(record.get("run", ""))
                    if active is None:
                        continue
                    runstate.apply(active.view, record)  # its view shows the request, as the ledger does
                    if not active.cancel.is_set():
                        by = record.get("by")
                        self.cancel(active.view.id, f"cancelled by {by}" if by else "cancelled")
        finally:
            self._cancel_reader = None

    async def _run_phases(self, active: _Active) -> RunStatus:
        view, definition = active.view, active.definition
        for phase, phase_view in zip(definition.orchestration.phases, view.phases, strict=True):
            runnable = [t for t, t_view in zip(phase.tasks, phase_view.tasks, strict=True) if t_view.runnable]
            if not runnable:
                continue  # every task skipped: the phase is shown as skipped
            self._append(view, "phase.started", phase=phase.name)
            failed = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                for task in runnable:
                    group.create_task(self._run_task(active, phase, task, failed))
            status = runstate.phase_status(phase_view.tasks)
            self._append(view, "phase.finished", phase=phase.name, status=status.value)
            if status is StepStatus.ERROR:
                return RunStatus.ERROR
        return runstate.run_status(view.phases)

    async def _run_task(self, active: _Active, phase: Phase, task: Task, failed: asyncio.Event) -> None:
        view, definition = active.view, active.definition
        config = definition.configurations[task.config]
        lock = self._config_locks.get(task.config)
        if lock is None:
            lock = self._config_locks[task.config] = self._locks.config(task.config, keep_open=True)
        holder = {"run": view.id, "orchestration": view.orchestration, "task": task.name}
        if not await lock.acquire(stop=failed.is_set, holder=holder, busy=self._lock_watcher(view, task, lock)):
            await self._not_started(view, phase, task)
            return
        try:
            async with self._slots:
                if failed.is_set():
                    await self._not_started(view, phase, task)
                    return
                log = active.log_dir / f"{task.name}.log"
                job = TaskJob(
                    run_id=view.id,
                    orchestration=view.orchestration,
                    task=task.name,
                    config=config,
                    parameters=deep_merge(config.parameters, task.parameters),
                    token=active.token,
                    repo_root=active.root,
                    log_path=log,
                    environ=self._environ,
                    revision=definition.revision,
                    dirty=definition.dirty,
                )
                executor = self._executors[config.run.kind]
                # Where it runs (a cluster's worker) is decided first, so that its record can say so.
                where = await executor.place(job) if isinstance(executor, Placing) else {}
                await self._append_async(
                    view, "task.started", phase=phase.name, task=task.name, config=task.config, log=str(log), **where
                )
                attempt = self._attempt(active, task.name, config)
                started = self._clock.monotonic()
                try:
                    result = await executor.run(job)
                except asyncio.CancelledError:
                    await self._append_async(
                        view,
                        "task.finished",
                        phase=phase.name,
                        task=task.name,
                        status="terminated",
                        error=active.reason or "terminated",
                        durationMs=round((self._clock.monotonic() - started) * 1000),
                        **({"details": dict(job.notes)} if job.notes else {}),
                    )
                    self._ended(attempt, "terminated", active.reason or "terminated")
                    raise
                ok = result.outcome is Outcome.SUCCESS
                self._ended(attempt, "success" if ok else "error", result.error)
                await self._append_async(
                    view,
                    "task.finished",
                    phase=phase.name,
                    task=task.name,
                    status="success" if ok else "error",
                    exitCode=result.exit_code,
                    error=result.error,
                    durationMs=round((self._clock.monotonic() - started) * 1000),
                    **({"details": dict(result.details)} if result.details else {}),
                )
                if ok:
                    for table in config.outputs:
                        await self._append_async(
                            view, "table.updated", table=table, orchestration=view.orchestration, task=task.name
                        )
                elif not task.continue_on_failure:
                    failed.set()
                if result.hold is not None:
                    self._notify(
                        {
                            "type": "progress.task-holding",
                            "time": format_time(self._clock.now()),
                            "run": view.id,
                            "task": task.name,
                            "config": task.config,
                            "worker": result.details.get("worker"),
                        }
                    )
                    await _unless_interrupted(result.hold())
        finally:
            lock.release()

    def _attempt(self, active: _Active, task: str, config: Configuration) -> Attempt | None:
        """The task attempt just recorded as started, told to the lineage catalogue (None: there is none)."""
        if self._lineage is None:
            return None
        definition = active.definition
        attempt = Attempt(
            run_id=active.view.id,
            orchestration=active.view.orchestration,
            task=task,
            outputs=config.outputs,
            inputs=config.inputs,
            revision=definition.revision,
        )
        self._lineage.started(attempt, format_time(self._clock.now()))
        return attempt

    def _ended(self, attempt: Attempt | None, status: str, error: str | None) -> None:
        if self._lineage is not None and attempt is not None:
            self._lineage.ended(attempt, format_time(self._clock.now()), status, error)

    def _lock_watcher(self, view: RunView, task: Task, lock: Lock) -> Callable[[], None] | None:
        """What a task waiting for its configuration's lock calls: tells the observer who holds it, when that
        is known and whenever it changes."""
        if self._observer is None:
            return None
        told: list[dict[str, Any]] = []  # the holder last told about

        def busy() -> None:
            holder = self._locks.holder(lock)
            if holder is None or told == [holder]:
                return
            told[:] = [holder]
            self._notify(
                {
                    "type": "progress.task-waiting",
                    "time": format_time(self._clock.now()),
                    "run": view.id,
                    "task": task.name,
                    "config": task.config,
                    "holder": holder,
                }
            )

        return busy

    async def _not_started(self, view: RunView, phase: Phase, task: Task) -> None:
        await self._append_async(
            view,
            "task.finished",
            phase=phase.name,
            task=task.name,
            status="not-executed",
            error="not started: another task of the phase failed",
        )

    def _append(self, view: RunView, type_: str, **fields: Any) -> None:
        """Record a step of the run. Once the ledger refused one, it records nothing more of this run
        but its end (`_finish`): a later record in a ledger that misses an earlier one would be false."""
        active = self._checked(view)
        try:
            record = self._ledger.append_one(type_, run=view.id, **fields)
        except StorageError as exc:
            self._refused(active, exc)
            raise
        self._applied(view, record)

    async def _append_async(self, view: RunView, type_: str, **fields: Any) -> None:
        """`_append` of a task's step: tasks running at once share commits, and the loop goes on meanwhile."""
        active = self._checked(view)
        try:
            (record,) = await self._ledger.append_async([{"type": type_, "run": view.id, **fields}])
        except StorageError as exc:
            self._refused(active, exc)
            raise
        self._applied(view, record)

    def _checked(self, view: RunView) -> _Active | None:
        active = self._active.get(view.id)
        if active is not None and active.fault is not None:
            raise active.fault
        return active

    def _refused(self, active: _Active | None, exc: StorageError) -> None:
        if active is not None and active.fault is None:
            active.fault = exc
            active.reason = exc.reason
            active.cancel.set()  # stops its running tasks (their process groups are killed)

    def _applied(self, view: RunView, record: Record) -> None:
        runstate.apply(view, record)
        self._notify(record)

    def _notify(self, record: Record) -> None:
        if self._observer is not None:
            self._observer(record)


def _storage_error(exc: BaseException) -> StorageError | None:
    """The `StorageError` that `exc` is, or that an exception group from a phase's tasks holds."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        return next((found for e in exc.exceptions if (found := _storage_error(e)) is not None), None)
    return None


async def _unless_interrupted(hold: Awaitable[None]) -> None:
    """Wait for `hold` to end, even when cancelled meanwhile (then re-raised after it): what it guards (a
    configuration that may still be in use elsewhere) must not be released early."""
    waiting = asyncio.ensure_future(hold)
    cancelled = False
    while not waiting.done():
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            cancelled = True  # however often: the hold still ends first
    if cancelled:
        raise asyncio.CancelledError


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Return when one of `events` is set, or after `timeout` seconds."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def _outcome(work: asyncio.Task[RunStatus]) -> RunStatus | None:
    """The run's status, or None if it was cancelled."""
    try:
        return await work
    except asyncio.CancelledError:
        if work.cancelled():
            return None
        raise
