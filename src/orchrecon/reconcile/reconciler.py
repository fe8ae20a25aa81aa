"""The long-running reconciler: follows the repository, decides schedules and triggers, runs what is due.

One reconciler per state directory holds `locks/reconciler.lock`; it is the single evaluator, so no
slot or table update is ever decided twice (and the ledger's guarded appends would refuse it anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from orchrecon import gitsource
from orchrecon.app import App
from orchrecon.clock import format_time, parse_time
from orchrecon.documents.result import Validation
from orchrecon.documents.validation import validate_files
from orchrecon.errors import StorageError
from orchrecon.execution.recovery import recover
from orchrecon.execution.runner import Decision, Runner
from orchrecon.gitsource import GitError, Source, SourceReason, SourceState
from orchrecon.notify import Notifier
from orchrecon.reconcile import desired as desired_state
from orchrecon.reconcile.desired import Desired
from orchrecon.reconcile.events import condition_changes, conditions, not_ready, run_finished
from orchrecon.reconcile.metrics import ReconcilerMetrics
from orchrecon.reconcile.publish import Publisher
from orchrecon.reconcile.status import write_json
from orchrecon.runs.definition import RunDefinition, select
from orchrecon.runs.state import RunView
from orchrecon.scheduling.slots import (
    ScheduleBook,
    SlotDecision,
    SlotKind,
    classify,
    decided_keys,
    schedule_key,
    slot_records,
    undecided,
)
from orchrecon.scheduling.triggers import TriggerState, TriggerView, Verdict, evaluate, trigger_key, trigger_record
from orchrecon.store.ledger import Record
from orchrecon.store.ports import Lock, NotLeaderError

LEDGER_POLL_SECONDS = 0.2  # how soon a table update reported by another process is decided
WATCHED_POLL_SECONDS = 5.0  # the same, where the ledger tells of appends (LISTEN/NOTIFY): only in case one is missed
PUBLISH_SECONDS = 0.5  # how late a run's records may show in status files and reports, at most
PUBLISH_CHUNK = 4  # orchestrations whose files are written between two turns of the loop
WRITERS = 4  # threads appending the API's requests
LEADERSHIP_CHECK_SECONDS = 1.0  # how often a leader on a shared database asks whether its lock still stands
HEARTBEAT_SECONDS = 15.0  # _reconciler.json is rewritten at least this often, for health checks

Log = Callable[[str, Mapping[str, object]], None]


class AlreadyRunningError(Exception):
    pass


class Reconciler:
    def __init__(self, app: App, source: Source, *, interval: timedelta, log: Log, max_parallel_jobs: int = 8) -> None:
        self._app = app
        self._source = source
        self._interval = interval
        self._log = log
        self._runner: Runner = app.runner(max_parallel_jobs=max_parallel_jobs, workdir=source.workdir)
        self._parallel = max_parallel_jobs
        self._limit_known = False  # set once a definition says what the limit is
        self._desired: dict[str, Desired] = {}
        self._told: dict[str, dict[str, str]] = {}  # conditions the log has told, by orchestration
        self._revision: str | None = None
        self._source_state = SourceState(revision=None, reason=SourceReason.NO_COMMITS, message="not looked yet")
        self._source_checked: datetime | None = None
        self._last_reconcile: dict[str, object] | None = None
        self._book = ScheduleBook()
        self._known: set[str] = set()  # decided slot keys seen while following the ledger
        self._position = app.ledger.end()
        self._updates: dict[str, datetime] = {}
        self._starts: dict[str, datetime] = {}
        self._armed: dict[str, datetime] = {}
        self._runs: set[asyncio.Task[object]] = set()
        self._running_revisions: Counter[str] = Counter()  # their files must stay while they run
        self._by_table: dict[str, list[str]] = {}  # table -> orchestrations whose trigger lists it
        self._run_owner: dict[str, str] = {}  # unfinished run -> its orchestration
        self._dirty: set[str] = set()  # orchestrations whose status must be written again
        self._all_dirty = True
        self._publisher = Publisher(app)
        self._lock = app.locks.reconciler()
        self._wake = asyncio.Event()
        self._stopping = False
        self._stop_reason = ""
        self._deposed: str | None = None  # why this reconciler lost the leadership, once it has
        self._source_due = False
        self.metrics = ReconcilerMetrics()
        self._api_url: str | None = None
        # Requests from the API are appended and fsynced in these threads, off the loop. Several, so that
        # appends made while one thread waits for its fsync share the next one (Ledger.sync): one at a
        # time, a burst of requests queued behind each other's fsync. Runs of an orchestration still
        # start in ledger order, whichever thread appended them.
        self._writer = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="orchrecon-ledger")

    # -- lifecycle -----------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Become the state directory's one reconciler; AlreadyRunningError if another one is."""
        if not self._lock.try_acquire():
            raise AlreadyRunningError(f"another reconciler holds {self._app.state.root}")
        recover(self._app.store, self._app.ledger, self._app.locks)
        store = self._app.store
        self._updates = {t: parse_time(at) for t, (at, _) in store.table_updates().items()}
        self._starts = {o: parse_time(at) for o, at in store.last_run_starts().items()}
        self._armed = {k: parse_time(at) for k, at in store.marks().items()}
        self._desired = desired_state.restore(store.applied_revisions(), self._validate_revision)
        self._told = store.conditions()  # as the last reconcile left them: a restart repeats none
        self._index_triggers()
        self._position = self._app.ledger.end()
        app = self._app  # notifications a dead process left, in the background (waited for like a run)
        self._notifier = Notifier(ledger=app.ledger, store=store, clock=app.clock, environ=app.environ, log=self._log)
        if (late := self._notifier.sweep()) is not None:
            try:
                task: asyncio.Task[object] = asyncio.get_running_loop().create_task(late, name="notifications")
            except RuntimeError:  # acquired outside an event loop
                asyncio.run(late)
            else:
                self._runs.add(task)
                task.add_done_callback(self._runs.discard)

    @property
    def state_root(self) -> Path:
        return self._app.state.root

    @property
    def app(self) -> App:
        return self._app

    @property
    def desired(self) -> Mapping[str, Desired]:
        """Each orchestration's desired state as last reconciled."""
        return self._desired

    @property
    def revision(self) -> str | None:
        """The source revision applied last (None: none yet)."""
        return self._revision

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def holds_lock(self) -> bool:
        return self._lock.held

    def serving(self, url: str | None) -> None:
        """The API's address, shown in `_reconciler.json` (None: no API)."""
        self._api_url = url

    def live_run(self, run_id: str) -> tuple[RunView, Mapping[str, Any] | None] | None:
        """A run executing or waiting in this reconciler, from memory (see `Runner.live`)."""
        return self._runner.live(run_id)

    def published(self, name: str) -> Mapping[str, Any] | None:
        """What `status/<name>.json` holds, as last published."""
        return self._publisher.status(name)

    @property
    def source_state(self) -> SourceState:
        return self._source_state

    def stop(self, reason: str = "") -> None:
        """Stop requesting runs and leave the loop (safe from a signal handler); `reason` (say, `SIGTERM`)
        is logged."""
        self._stopping = True
        self._stop_reason = self._stop_reason or reason
        self._wake.set()

    @property
    def deposed(self) -> str | None:
        """Why this reconciler is no longer the leader (None: it still is, or never was)."""
        return self._deposed

    def _depose(self, reason: str) -> None:
        """Another reconciler leads now: start nothing more, stop every run at once (their records are refused
        anyway; the new leader records them terminated) and leave the loop."""
        if self._deposed is not None:
            return
        self._deposed = reason
        self._log("lost the leadership", {"reason": reason})
        self._runner.cancel_all("the reconciler lost the leadership")
        self.stop("lost the leadership")

    @property
    def stop_reason(self) -> str:
        """What stopped it (`SIGTERM`), once `stop` was called with a reason."""
        return self._stop_reason

    def source_changed(self) -> None:
        """Look at the source now rather than at the next interval (a watcher saw a commit)."""
        self._source_due = True
        self._wake.set()

    def release(self) -> None:
        """Give the state directory up (a standby may take over); stop the API first."""
        self._writer.shutdown(wait=True)
        self._lock.release()

    async def serve(self, *, once: bool = False, grace: float = 30.0) -> None:
        """Reconcile and evaluate until stopped (or once); then let runs finish within `grace` seconds.

        The source is looked at every interval (or when told it changed) in a thread, so a slow fetch
        never delays a decision; the loop sleeps until the next due slot, a wake-up or the next ledger
        poll, whichever comes first."""
        loop = asyncio.get_running_loop()
        self._follow_parallel_limit(self._revision)  # restored definitions carry their project's limit
        self._decide_pending_triggers(self._app.clock.now())
        unwatch, poll = self._watch_ledger()
        next_fetch = next_beat = next_publish = fetched_at = 0.0
        fetching: asyncio.Task[SourceState] | None = None
        leadership = _LeadershipWatch(self._lock, self._wake.set)
        checking: asyncio.Task[None] | None = None
        clustered = self._runner.cluster_status() is not None  # tasks run on a Dask cluster
        changed = True  # the first pass always writes the status files
        while True:
            self._wake.clear()
            if fetching is None and (self._source_due or loop.time() >= next_fetch):
                self._source_due = False
                fetched_at = loop.time()
                fetching = asyncio.create_task(asyncio.to_thread(self._source.fetch))
                fetching.add_done_callback(lambda _: self._wake.set())
                if once:
                    await asyncio.wait([fetching])
            if leadership.lost():
                self._depose("its database session ended, and with it the leadership lock")
                break
            try:
                if fetching is not None and fetching.done():
                    changed |= self._fetched(fetching.result(), loop.time() - fetched_at)
                    fetching = None
                    next_fetch = loop.time() + self._interval.total_seconds()
                changed |= self.evaluate(self._app.clock.now())
            except NotLeaderError as exc:
                self._depose(str(exc))
                break
            # Status files and reports follow within PUBLISH_SECONDS, not after every pass: a burst of runs
            # would have them rewritten many times a second. A new revision shows at once.
            if self._all_dirty or loop.time() >= next_publish:
                await self._write_statuses_yielding()  # only those a change touched: with 10,000 that matters
                next_publish = loop.time() + PUBLISH_SECONDS
            if changed or loop.time() >= next_beat:
                if clustered and (checking is None or checking.done()):  # known before a task needs it
                    checking = asyncio.create_task(self._check_cluster())
                self.write_reconciler_status()
                next_beat = loop.time() + HEARTBEAT_SECONDS
                changed = False
            if once or self._stopping:
                break
            await self._sleep(poll)
        if fetching is not None:
            await asyncio.wait([fetching])  # a git process is never left behind
        await leadership.close(unwatch)
        await self._finish(0.0 if self._deposed else grace if not once else None)

    def _watch_ledger(self) -> tuple[Callable[[], None] | None, float]:
        """Have appends anywhere wake the loop, where the ledger tells of them: what stops that, and how often to
        look at the ledger all the same."""
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wake.set)

        unwatch = self._app.ledger.watch(wake)
        return unwatch, LEDGER_POLL_SECONDS if unwatch is None else WATCHED_POLL_SECONDS

    async def _sleep(self, poll: float) -> None:
        """Until the next due slot, a wake-up or the next ledger poll (`poll` seconds), whichever comes first."""
        delay = poll
        wake = self._book.next_fire()
        if wake is not None:
            delay = min(delay, max(0.0, (wake - self._app.clock.now()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def _fetched(self, state: SourceState, took: float) -> bool:
        """Apply what a look at the source found, `took` seconds after it began; True if a status changed."""
        changed = self.apply_source(state)
        self.metrics.reconciled(took, succeeded=self._source_state.ready, at=self._app.clock.now().timestamp())
        return changed

    async def _finish(self, grace: float | None) -> None:
        if self._runs:
            running = sorted(t.get_name() for t in self._runs)  # tasks are named by their run
            if grace is None:
                self._log("waiting for runs", {"runs": running})
            else:
                self._log(
                    "stopping", {"reason": self._stop_reason or "stopped", "grace": f"{grace:g}s", "runs": running}
                )
            _, pending = await asyncio.wait(self._runs, timeout=grace)
            if pending:
                self._log("grace over", {"grace": f"{grace:g}s", "terminating": sorted(t.get_name() for t in pending)})
                self._runner.cancel_all("the reconciler stopped")
                await asyncio.wait(pending)
        self.write_statuses()
        self.write_reconciler_status(stopped=True)
        await self._runner.close()
        await self._app.ledger.sync_async()

    # -- the source ----------------------------------------------------------------------------------

    def apply_source(self, state: SourceState) -> bool:
        """Take what a look at the source found; apply its revision if it is new (even when the look
        failed: a revision fetched by an earlier process is still the newest known). True if anything a
        status shows changed."""
        now = self._app.clock.now()
        before, self._source_state, self._source_checked = self._source_state, state, now
        if not state.ready and (state.reason, state.message) != (before.reason, before.message):
            self._log("source not ready", {"reason": state.reason.value, "message": state.message})
        if state.revision is None or state.revision == self._revision:
            if state.ready:
                self._keep()  # a rebuilt mirror pins its revisions again
            return state != before
        try:
            validation = self._validate_revision(state.revision)
        except GitError as exc:
            self._source_state = SourceState(revision=state.revision, reason=SourceReason.READ_FAILED, message=str(exc))
            self._log("source not ready", {"reason": SourceReason.READ_FAILED.value, "message": str(exc)})
            return True
        self._apply(validation, state.revision, now)
        return True

    def _apply(self, validation: Validation, revision: str, now: datetime) -> None:
        self._desired = desired_state.reconcile(self._desired, validation, revision)
        self._revision = revision
        self._index_triggers()
        self._follow(now)
        self._follow_parallel_limit(revision)
        self._keep()
        unready, told = not_ready(self._desired), conditions(self._desired)
        record = self._app.ledger.append_one(
            "reconcile.finished",
            revision=revision,
            orchestrations=len(self._desired),
            notReady=unready,
            errors=len(validation.errors),
            applied={n: d.applied_revision for n, d in self._desired.items() if d.applied_revision},
            conditions=told,
        )
        self._last_reconcile = {
            "revision": revision,
            "at": record["time"],
            "orchestrations": len(self._desired),
            "notReady": len(unready),
            "errors": len(validation.errors),
        }
        removed = sum(1 for d in self._desired.values() if d.reason is desired_state.Reason.REMOVED)
        self._log(
            "reconciled",
            {
                "revision": revision,
                "orchestrations": len(self._desired) - removed,
                "notReady": len(unready),
                "errors": len(validation.errors),
            },
        )
        for event, fields in condition_changes(self._told, self._desired):
            self._log(event, fields)
        self._told = told

    def _index_triggers(self) -> None:
        """Which orchestrations each table update concerns; every status is written again."""
        self._all_dirty = True
        self._by_table = {}
        for name, d in self._desired.items():
            if d.applied is not None and d.applied.orchestration.trigger is not None:
                for table in d.applied.orchestration.trigger.tables:
                    self._by_table.setdefault(table, []).append(name)

    def _follow_parallel_limit(self, revision: str | None) -> None:
        """Run tasks within the project's `maxParallelJobs` of the newest applied revision."""
        applied = [d.applied for d in self._desired.values() if d.applied is not None]
        newest = [a.max_parallel_jobs for a in applied if revision is None or a.revision == revision]
        limit = max(newest or [a.max_parallel_jobs for a in applied] or [self._parallel])
        if limit != self._parallel:
            self._runner.resize(limit)
            if self._limit_known:  # the first limit a process learns is no change worth a line
                self._log("parallel limit", {"maxParallelJobs": limit, "was": self._parallel})
            self._parallel = limit
        self._limit_known = self._limit_known or bool(applied)

    def _keep(self) -> None:
        applied = {d.applied_revision for d in self._desired.values() if d.applied_revision}
        self._source.keep(applied | set(self._running_revisions))

    def _validate_revision(self, revision: str) -> Validation:
        return validate_files(gitsource.read_revision(self._source.git_dir, revision))

    def _follow(self, now: datetime) -> None:
        """Follow the schedules and triggers of active orchestrations; arm new ones; forget the others."""
        wanted: set[str] = set()
        records: list[dict[str, object]] = []
        for name, d in self._desired.items():
            if not d.active or d.applied is None:
                continue
            orchestration = d.applied.orchestration
            keys = [schedule_key(name, s) for s in orchestration.schedules]
            decided = {k: self._armed[k] for k in keys if k in self._armed}  # from the ledger: decided up to
            for key in self._book.follow(orchestration, decided, now):
                records.append(
                    {"type": "schedule.armed", "schedule": key, "orchestration": name, "since": format_time(now)}
                )
                self._armed[key] = now
            wanted.update(keys)
            if orchestration.trigger:
                key = trigger_key(name, orchestration.trigger)
                if key not in self._armed:
                    records.append(
                        {"type": "trigger.armed", "trigger": key, "orchestration": name, "since": format_time(now)}
                    )
                    self._armed[key] = now
        self._book.forget([k for k in list(self._book.schedules) if k not in wanted])
        if records:
            self._app.ledger.append(records)

    # -- decisions -----------------------------------------------------------------------------------

    def evaluate(self, now: datetime) -> bool:
        """Decide due schedule slots and the table updates appended since the last look; True if there
        was anything (a due slot or a new record) that can change a status."""
        changed = False
        for key in self._book.due(now):
            name, schedule = self._book.schedules[key]
            decisions = classify(schedule, self._book.take(key, now), now=now)
            self._record_slots(name, key, decisions)
            self._dirty.add(name)  # its next fire times moved on
            changed = True
        for position, record in self._app.ledger.read(self._position):
            self._position = position
            self._observe(record)
            changed = True
        return changed

    def _record_slots(self, name: str, key: str, decisions: list[SlotDecision]) -> None:
        _, schedule = self._book.schedules[key]

        def fresh(seen: list[Record]) -> list[dict[str, Any]]:
            self._known |= decided_keys(seen)
            return slot_records(name, key, schedule, undecided(name, decisions, self._known))

        firing = [d for d in decisions if d.kind is SlotKind.FIRE or (d.kind is SlotKind.MISSED and d.catch_up)]
        if firing:
            # The slot's decision and its run's request are one append: a crash leaves both or neither.
            [fired] = slot_records(name, key, schedule, firing[-1:])
            cause = {k: fired[k] for k in ("schedule", "cron", "timezone", "slot")}
            decided: list[dict[str, Any]] = []

            def decision(run_id: str, seen: list[Record]) -> list[dict[str, Any]] | None:
                decided[:] = fresh(seen)
                if not any(r["key"] == fired["key"] for r in decided):
                    return None  # decided already, by whoever came first
                for record in decided:
                    if record["key"] == fired["key"]:
                        record["run"] = run_id
                return decided

            caught_up = {"caughtUp": True} if fired.get("caughtUp") else {}
            if self._request(name, "schedule", cause | caught_up, decision=decision) is not None:
                self._known |= decided_keys(decided)
                return
        written, _ = self._app.ledger.append_guarded(self._position, fresh)
        self._known |= decided_keys(written)

    def _observe(self, record: Record) -> None:
        kind = record.get("type")
        if kind == "run.requested":
            self._started(record["orchestration"], parse_time(record["time"]))
            self._run_owner[record["run"]] = record["orchestration"]
        elif kind == "table.updated":
            at = parse_time(record["time"])
            self._updates[record["table"]] = at
            self._dirty.update(self._by_table.get(record["table"], ()))  # a table's last update is shown
            self._decide_triggers(record["table"], at)
        owner = self._owner(record)
        self._dirty.add(owner)
        self.metrics.observe(record, owner)

    def _owner(self, record: Record) -> str:
        """The orchestration a record is about ('' if none): named, or found through its run."""
        if "orchestration" in record:
            return str(record["orchestration"])
        run = record.get("run")
        if not isinstance(run, str):
            return ""
        owner = self._run_owner.get(run)
        if owner is None:  # a run requested before this reconciler started
            view = self._app.store.get(run)
            owner = view.orchestration if view else ""
        if record.get("type") == "run.finished":
            self._run_owner.pop(run, None)
        return owner

    def _decide_triggers(self, table: str, now: datetime) -> None:
        for name in self._by_table.get(table, ()):
            self._decide_trigger(name, now)

    def _decide_trigger(self, name: str, now: datetime) -> None:
        state = self._trigger_state(name, now)  # the index holds applied orchestrations with triggers only
        if state is None:  # not armed yet
            return
        record = trigger_record(name, state)
        if state.verdict is Verdict.FIRE:
            # The decision and the run's request are one append: a crash leaves both or neither.
            decision = lambda run_id, _: [{**record, "run": run_id}]  # noqa: E731 - read where it is used
            if self._request(name, "trigger", {"tables": record["tables"]}, decision=decision) is not None:
                return
            record["run"] = None  # no applied definition to run
        self._app.ledger.append([record])

    def _decide_pending_triggers(self, now: datetime) -> None:
        """Decide the table updates no reconciler decided (the last leader died first, or none was running),
        as if they arrived now; an update its trigger decided already (fired or suppressed) is not decided again."""
        names: dict[str, set[str]] = {}  # orchestration -> its trigger's tables
        for table, orchestrations in self._by_table.items():
            for name in orchestrations:
                names.setdefault(name, set()).add(table)
        if not names:
            return
        updated = self._app.store.table_update_seqs()
        decided = self._app.store.last_trigger_decisions()
        for name, tables in sorted(names.items()):
            if max(updated.get(t, 0) for t in tables) > decided.get(name, 0):
                self._decide_trigger(name, now)

    def _request(self, name: str, trigger: str, cause: dict[str, Any], *, decision: Decision) -> str | None:
        """Request a run of `name`'s applied definition with the records `decision` makes (see
        `Runner.request_decided`); its id, or None when there is no applied definition or `decision` declined."""
        d = self._desired.get(name)
        if d is None or d.applied is None:
            return None
        requested = self._runner.request_decided(
            d.applied,
            selected=select(d.applied.orchestration),
            trigger=trigger,
            cause=cause,
            decision=decision,
            since=self._position,
        )
        return None if requested is None else self._start(requested, d.applied.revision)

    async def request(
        self,
        definition: RunDefinition,
        *,
        selected: frozenset[str],
        trigger: str,
        by: str | None,
        cause: Mapping[str, Any],
        retry_of: str | None = None,
    ) -> Record:
        """Request a run (for the API) and run it here under every serialization rule. Returns the
        `run.requested` record once it is durable: the append and fsync happen in a writer thread, so the
        loop never waits for the disk."""
        request = functools.partial(
            self._runner.request, definition, selected=selected, trigger=trigger, by=by, retry_of=retry_of, cause=cause
        )
        requested = await asyncio.get_running_loop().run_in_executor(self._writer, request)
        self._start(requested, definition.revision)
        return requested

    async def append(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        """Append records and make them durable, in a writer thread (for the API)."""

        def write() -> list[Record]:
            written = self._app.ledger.append(records)
            self._app.ledger.sync()
            return written

        return await asyncio.get_running_loop().run_in_executor(self._writer, write)

    def _start(self, requested: Record, revision: str | None) -> str:
        """Execute a run just requested, as a task of the loop named by its id."""
        name, run_id, trigger = str(requested["orchestration"]), str(requested["run"]), str(requested["trigger"])
        self._started(name, parse_time(requested["time"]))
        loop = asyncio.get_running_loop()
        task: asyncio.Task[object] = loop.create_task(self._execute(run_id, revision, requested), name=run_id)
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        cause = requested.get("cause") or {}
        shown = {k: v for k, v in cause.items() if k in ("slot", "caughtUp", "tables", "token")}
        self._log("run requested", {"orchestration": name, "run": run_id, "trigger": trigger, **shown})
        return run_id

    def _started(self, name: str, at: datetime) -> None:
        """`name`'s last run started (was requested) at `at`, unless a later one is known: an API request
        fsynced in a writer thread may reach `_start`, or the ledger, after a later run's start here."""
        self._starts[name] = max(at, self._starts.get(name, at))

    async def _execute(self, run_id: str, revision: str | None, requested: Record) -> object:
        try:
            return await self._execute_in(run_id, revision, requested)
        except NotLeaderError as exc:
            self._depose(str(exc))
            return None
        except StorageError as exc:  # the runner stopped it and recorded why, or left that to recovery
            self._log("run stopped: the state directory refused a write", {"run": run_id, "error": str(exc)})
            return None

    async def _execute_in(self, run_id: str, revision: str | None, requested: Record) -> object:
        async def run() -> RunView:  # its notifications are sent after its end, which they never delay
            view = self._finished(await self._notifier.watch(run_id, self._runner.execute(run_id), requested))
            await self._notifier.settle(run_id)
            return view

        if revision is None:
            return await run()
        self._running_revisions[revision] += 1
        try:
            with contextlib.suppress(GitError):  # the runner records the run failed if the files are missing
                await asyncio.to_thread(self._source.workdir, revision)  # a checkout never blocks the loop
            return await run()
        finally:
            self._running_revisions[revision] -= 1
            if not self._running_revisions[revision]:
                del self._running_revisions[revision]

    def _finished(self, view: RunView) -> RunView:
        self._log(*run_finished(view))
        return view

    async def _check_cluster(self) -> None:
        """Connect to the cluster tasks run on (if any); a change of what it says is written at once."""
        before = self._runner.cluster_status()
        await self._runner.check_cluster()
        if self._runner.cluster_status() != before:
            self.write_reconciler_status()

    # -- status --------------------------------------------------------------------------------------

    def write_statuses(self) -> None:
        """Write the status of every orchestration a change touched (all after a new revision)."""
        names = None if self._all_dirty else self._dirty - {""}
        self._all_dirty, self._dirty = False, set()
        if names is None or names:
            self._publisher.publish(self._desired, names)  # with the reports and the index

    async def _write_statuses_yielding(self) -> None:
        """`write_statuses`, letting the loop serve the API and the runs between a few orchestrations: a
        burst of runs touches many at once, and rendering their reports in one go stalls the loop."""
        if self._all_dirty:  # a new revision: one pass, as before
            self.write_statuses()
            return
        names = sorted(self._dirty - {""})
        self._dirty = set()
        for start in range(0, len(names), PUBLISH_CHUNK):
            last = start + PUBLISH_CHUNK >= len(names)
            self._publisher.publish(self._desired, names[start : start + PUBLISH_CHUNK], index=last)
            if not last:
                await asyncio.sleep(0)

    def _trigger_armed(self, name: str) -> datetime | None:
        """Since when the applied trigger of `name` counts updates (None: no trigger, or not armed)."""
        d = self._desired[name]
        trigger = d.applied.orchestration.trigger if d.applied else None
        return self._armed.get(trigger_key(name, trigger)) if trigger else None

    def _trigger_state(self, name: str, now: datetime) -> TriggerState | None:
        """What the applied trigger of `name` would decide at `now` (None: no trigger, or not armed)."""
        d = self._desired[name]
        orchestration = d.applied.orchestration if d.applied else None
        armed = self._trigger_armed(name)
        if orchestration is None or orchestration.trigger is None or armed is None:
            return None
        view = TriggerView(armed_at=armed, last_run_start=self._starts.get(name), updates=self._updates)
        return evaluate(orchestration.trigger, view, now, suspended=orchestration.suspend)

    def write_reconciler_status(self, *, stopped: bool = False) -> None:
        """`status/_reconciler.json`: the source, the last reconcile and a heartbeat for health checks
        (`stoppedAt` once it has stopped)."""
        now, state = self._app.clock.now(), self._source_state
        write_json(
            self._app.state.status / "_reconciler.json",
            {
                "apiVersion": "orchrecon/v1",
                "kind": "ReconcilerStatus",
                "pid": os.getpid(),
                "source": {
                    **self._source.describe(),
                    "revision": state.revision,
                    "checkedAt": format_time(self._source_checked) if self._source_checked else None,
                },
                "conditions": [
                    {
                        "type": "SourceReady",
                        "status": "True" if state.ready else "False",
                        "reason": state.reason.value,
                        "message": state.message,
                    }
                ],
                "revision": self._revision,
                "lastReconcile": self._last_reconcile,
                "orchestrations": len(self._desired),
                "notReady": not_ready(self._desired),
                "activeRuns": len(self._runs),
                "api": {"url": self._api_url} if self._api_url else None,
                **({"cluster": cluster} if (cluster := self._runner.cluster_status()) is not None else {}),
                "heartbeatIntervalSeconds": HEARTBEAT_SECONDS,
                "updatedAt": format_time(now),
                "stoppedAt": format_time(now) if stopped else None,
            },
        )


class _LeadershipWatch:
    """Asks, every LEADERSHIP_CHECK_SECONDS and off the loop, whether the leadership lock still stands, in a task
    of its own: a lost lock wakes the loop (`wake`) at once, however long the loop meant to sleep."""

    def __init__(self, lock: Lock, wake: Callable[[], None]) -> None:
        self._lock = lock
        self._wake = wake
        self._gone = False
        self._stopping = asyncio.Event()
        self._asking = asyncio.create_task(self._ask())

    def lost(self) -> bool:
        """True once an answer said the lock is gone."""
        return self._gone

    async def _ask(self) -> None:
        while not await self._answer():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), LEADERSHIP_CHECK_SECONDS)
                return
        self._gone = True
        self._wake()

    async def _answer(self) -> bool:
        """Whether the lock is gone; a question that fails is no answer (the next one comes in a second), and a
        lost lock also shows at the next append, which is refused."""
        try:
            return await asyncio.to_thread(self._lock.lost)  # the database may be slow
        except Exception:
            return False

    async def close(self, unwatch: Callable[[], None] | None) -> None:
        """Stop asking, once the question in flight is answered; stop the ledger's watch too (`unwatch`), off the
        loop."""
        self._stopping.set()
        await asyncio.gather(self._asking, return_exceptions=True)
        if unwatch is not None:
            await asyncio.to_thread(unwatch)
