"""The long-running reconciler: follows the repository, decides schedules and triggers, runs what is due.

One reconciler per state directory holds `locks/reconciler.lock`; it is the single evaluator, so no
slot or table update is ever decided twice (and the ledger's guarded appends would refuse it anyway).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from orchrecon import desired as desired_state
from orchrecon import gitsource
from orchrecon.app import App
from orchrecon.clock import format_time, parse_time
from orchrecon.definition import select
from orchrecon.desired import Desired
from orchrecon.ledger import Record
from orchrecon.locks import FileLock
from orchrecon.runner import Runner, recover
from orchrecon.scheduling import (
    ScheduleBook,
    SlotDecision,
    classify,
    decided_keys,
    schedule_key,
    slot_records,
    undecided,
)
from orchrecon.status import orchestration_status, write_json
from orchrecon.triggers import TriggerView, Verdict, evaluate, trigger_key, trigger_record
from orchrecon.validation import Validation, validate_files

LEDGER_POLL_SECONDS = 0.2  # how soon a table update reported by another process is decided

Log = Callable[[str, dict[str, object]], None]


class AlreadyRunningError(Exception):
    pass


class Reconciler:
    def __init__(self, app: App, *, interval: timedelta, log: Log, max_parallel_jobs: int = 8) -> None:
        self._app = app
        self._interval = interval
        self._log = log
        self._runner: Runner = app.runner(max_parallel_jobs=max_parallel_jobs)
        self._desired: dict[str, Desired] = {}
        self._revision: str | None = None
        self._book = ScheduleBook()
        self._known: set[str] = set()  # decided slot keys seen while following the ledger
        self._position = app.ledger.end()
        self._updates: dict[str, datetime] = {}
        self._starts: dict[str, datetime] = {}
        self._armed: dict[str, datetime] = {}
        self._runs: set[asyncio.Task[object]] = set()
        self._lock = FileLock(app.state.locks / "reconciler.lock")
        self._stop = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Become the state directory's one reconciler; AlreadyRunningError if another one is."""
        if not self._lock.try_acquire():
            raise AlreadyRunningError(f"another reconciler holds {self._app.state.root}")
        recover(self._app.store, self._app.ledger, self._app.state)
        store = self._app.store
        self._updates = {t: parse_time(at) for t, (at, _) in store.table_updates().items()}
        self._starts = {o: parse_time(at) for o, at in store.last_run_starts().items()}
        self._armed = {k: parse_time(at) for k, at in store.marks().items()}
        self._desired = desired_state.restore(store.applied_revisions(), self._validate_revision)
        self._position = self._app.ledger.end()

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Give the state directory up (a standby may take over)."""
        self._lock.release()

    async def serve(self, *, once: bool = False, grace: float = 30.0) -> None:
        """Reconcile and evaluate until stopped (or once); then let runs finish within `grace` seconds."""
        next_fetch = 0.0
        loop = asyncio.get_running_loop()
        changed = True  # the first pass always writes the status files
        while True:
            if loop.time() >= next_fetch:
                changed |= self.reconcile_source()
                next_fetch = loop.time() + self._interval.total_seconds()
            changed |= self.evaluate(self._app.clock.now())
            if changed:  # idle polls must not rewrite every status file
                self.write_statuses()
                changed = False
            if once or self._stop.is_set():
                break
            wake = self._book.next_fire()
            delay = LEDGER_POLL_SECONDS
            if wake is not None:
                delay = min(delay, max(0.0, (wake - self._app.clock.now()).total_seconds()))
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except TimeoutError:
                continue
        await self._finish(grace if not once else None)

    async def _finish(self, grace: float | None) -> None:
        if self._runs:
            _, pending = await asyncio.wait(self._runs, timeout=grace)
            if pending:
                self._runner.cancel_all("the reconciler stopped")
                await asyncio.wait(pending)
        self.write_statuses()
        await self._app.ledger.sync_async()

    # -- the source ----------------------------------------------------------------------------------

    def reconcile_source(self) -> bool:
        """Apply the newest commit if it is new; True if it was."""
        revision = gitsource.resolve(self._app.repo)
        if revision is None or revision == self._revision:
            return False
        try:
            validation = self._validate_revision(revision)
        except gitsource.GitError as exc:
            self._log("source failed", {"revision": revision, "error": str(exc)})
            return False
        self._desired = desired_state.reconcile(self._desired, validation, revision)
        self._revision = revision
        now = self._app.clock.now()
        self._follow(now)
        not_ready = sorted(n for n, d in self._desired.items() if not d.ready)
        self._app.ledger.append_one(
            "reconcile.finished",
            revision=revision,
            orchestrations=len(self._desired),
            notReady=not_ready,
            errors=len(validation.errors),
            applied={n: d.applied_revision for n, d in self._desired.items() if d.applied_revision},
        )
        self._log("reconciled", {"revision": revision, "notReady": not_ready, "errors": len(validation.errors)})
        return True

    def _validate_revision(self, revision: str) -> Validation:
        return validate_files(gitsource.read_revision(self._app.repo, revision))

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

        written, _ = self._app.ledger.append_guarded(self._position, fresh)
        self._known |= decided_keys(written)
        for record in written:
            if record["type"] == "schedule.fired" or (record["type"] == "schedule.missed" and record.get("caughtUp")):
                self._request(name, "schedule", {"slot": record["slot"]})

    def _observe(self, record: Record) -> None:
        kind = record.get("type")
        if kind == "run.requested":
            self._starts[record["orchestration"]] = parse_time(record["time"])
        elif kind == "run.started":
            pass  # the request time already counts: a pending run is the last run
        elif kind == "table.updated":
            at = parse_time(record["time"])
            self._updates[record["table"]] = at
            self._decide_triggers(record["table"], at)

    def _decide_triggers(self, table: str, now: datetime) -> None:
        for name, d in self._desired.items():
            orchestration = d.applied.orchestration if d.applied else None
            if orchestration is None or orchestration.trigger is None or table not in orchestration.trigger.tables:
                continue
            key = trigger_key(name, orchestration.trigger)
            armed = self._armed.get(key)
            if armed is None or d.reason is desired_state.Reason.REMOVED:
                continue
            view = TriggerView(armed_at=armed, last_run_start=self._starts.get(name), updates=self._updates)
            state = evaluate(orchestration.trigger, view, now, suspended=orchestration.suspend)
            record = trigger_record(name, state)
            if state.verdict is Verdict.FIRE:
                run = self._request(name, "trigger", {})
                record["run"] = run
            self._app.ledger.append([record])

    def _request(self, name: str, trigger: str, extra: dict[str, object]) -> str | None:
        d = self._desired.get(name)
        if d is None or d.applied is None:
            return None
        requested = self._runner.request(d.applied, selected=select(d.applied.orchestration), trigger=trigger)
        self._starts[name] = parse_time(requested["time"])
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(self._runner.execute(requested["run"]))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        self._log("run requested", {"orchestration": name, "run": requested["run"], "trigger": trigger, **extra})
        return str(requested["run"])

    # -- status --------------------------------------------------------------------------------------

    def write_statuses(self) -> None:
        store, now = self._app.store, self._app.clock.now()
        for name, d in self._desired.items():
            orchestration = d.applied.orchestration if d.applied else None
            trigger_state = None
            armed = None
            if orchestration and orchestration.trigger:
                key = trigger_key(name, orchestration.trigger)
                armed_at = self._armed.get(key)
                armed = format_time(armed_at) if armed_at else None
                if armed_at:
                    view = TriggerView(armed_at=armed_at, last_run_start=self._starts.get(name), updates=self._updates)
                    trigger_state = evaluate(orchestration.trigger, view, now, suspended=orchestration.suspend)
            status = orchestration_status(
                d, now=now, trigger=trigger_state, trigger_armed=armed, runs=store.recent(name, 10)
            )
            write_json(self._app.state.status / f"{name}.json", status)
        write_json(
            self._app.state.status / "_reconciler.json",
            {
                "apiVersion": "orchrecon/v1",
                "kind": "ReconcilerStatus",
                "pid": os.getpid(),
                "revision": self._revision,
                "orchestrations": len(self._desired),
                "notReady": sorted(n for n, d in self._desired.items() if not d.ready),
                "activeRuns": len(self._runs),
                "updatedAt": format_time(now),
            },
        )
