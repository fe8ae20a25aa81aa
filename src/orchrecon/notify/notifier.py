"""The Notifier: follows a run as it executes and delivers what `orchrecon.runs.notifications` decides.

`watch` runs beside `Runner.execute`: it arms the `processing-long` timer once the run starts, and after
the run ends it starts the end deliveries as background tasks, so a slow or dead recipient never delays
the run, its end or any decision. `settle` waits for them (at most the policy's budget, since each
delivery is bounded by it). `sweep`, at a reconciler's start, settles what a dead process left: a claim
without an outcome is recorded failed (never sent again), and a run that ended in the last day with no
delivery claimed is notified then.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from orchrecon.clock import Clock, parse_time
from orchrecon.documents.model import EnvValue, Event, FromEnv, Notification
from orchrecon.errors import StorageError
from orchrecon.notify import email, webhook
from orchrecon.notify.claims import FAILED, INTERRUPTED, SENDING, SENT, Claims
from orchrecon.notify.policy import Outcome, Policy
from orchrecon.notify.window import recent_records
from orchrecon.runs import notifications as decide
from orchrecon.runs import state as runstate
from orchrecon.runs.definition import RunDefinition
from orchrecon.runs.notifications import Channel, Delivery, PastRun, webhook_origin
from orchrecon.runs.state import RunView
from orchrecon.store.ledger import Record
from orchrecon.store.ports import LedgerPort
from orchrecon.store.runstore import RunStore

Log = Callable[[str, Mapping[str, object]], None]
PAST_RUNS = 200  # earlier runs looked at: enough for the last 20 successes between failures
SWEEP_WINDOW = timedelta(hours=24)
START_POLL_SECONDS = 0.2


_T = TypeVar("_T")


@dataclass(kw_only=True)
class _Plan:
    """What a run's notifications depend on, read once from its request and the runs before it."""

    definition: RunDefinition
    notifications: tuple[Notification, ...]
    previous: list[PastRun]
    request: Record


@dataclass(kw_only=True)
class _Followed:
    claims: Claims
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class Notifier:
    def __init__(
        self,
        *,
        ledger: LedgerPort,
        store: RunStore,
        clock: Clock,
        environ: Mapping[str, str],
        log: Log | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._ledger = ledger
        self._store = store
        self._clock = clock
        self._environ = environ
        self._log = log or (lambda _event, _fields: None)
        self.policy = policy or Policy()
        self._tasks: dict[asyncio.Task[None], str] = {}  # deliveries under way -> their run

    # -- following a run ---------------------------------------------------------------------------

    async def watch(self, run_id: str, execution: Awaitable[RunView], request: Record | None = None) -> RunView:
        """Await `execution` (the run's `Runner.execute`), sending `processing-long` while it runs and
        starting its end deliveries once it ends; returns its final view as soon as it ends. `request`,
        the run's `run.requested` record when the caller has it, saves reading it back."""
        claims = Claims(self._ledger, self._ledger.end())  # nothing has this run's keys before its request
        plan = self._guarded(lambda: self._plan(run_id, request), run_id)
        timer = asyncio.create_task(self._processing_long(run_id, plan, claims)) if plan else None
        try:
            view = await execution
        finally:
            if timer is not None:
                timer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await timer
        if plan is not None:
            self._start(run_id, self._end(view, plan, claims))
        return view

    async def settle(self, run_id: str | None = None) -> None:
        """Wait for the deliveries of `run_id` (or of every run) started so far; each ends within the
        policy's budget, so this takes at most that long."""
        tasks = {t for t, run in self._tasks.items() if run_id in (None, run)}
        if tasks:
            await asyncio.wait(tasks, timeout=self.policy.budget + 1)

    def _start(self, run_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[task] = run_id
        task.add_done_callback(lambda done: self._tasks.pop(done, None))

    def _plan(self, run_id: str, request: Record | None = None) -> _Plan | None:
        request = request or self._store.request(run_id)
        if request is None or "definition" not in request:
            return None
        if not request.get("by") and not _subscribed(request["definition"]):
            return None  # nobody to tell, known without building the definition (most runs, at 80 a second)
        definition = RunDefinition.from_request(request)
        notifications = decide.effective(definition.orchestration, definition.project)
        if not notifications and not request.get("by"):
            return None  # nobody to tell
        previous = self._previous(definition.orchestration.name, run_id)
        return _Plan(definition=definition, notifications=notifications, previous=previous, request=request)

    def _previous(self, orchestration: str, run_id: str) -> list[PastRun]:
        return [
            PastRun(seq=s.seq, status=s.status, started_at=s.started_at, finished_at=s.finished_at)
            for s in self._store.recent(orchestration, PAST_RUNS)
            if s.id != run_id
        ]

    async def _processing_long(self, run_id: str, plan: _Plan, claims: Claims) -> None:
        try:
            await self._time_processing_long(run_id, plan, claims)
        except Exception as exc:  # a damaged ledger, say: the run goes on, told or not
            self._log("notification error", {"run": run_id, "error": str(exc)})

    async def _time_processing_long(self, run_id: str, plan: _Plan, claims: Claims) -> None:
        first = runstate.new_run(plan.request)
        average = decide.average_duration(plan.previous, first.requested_seq)
        wanted = decide.deliveries(first, [Event.PROCESSING_LONG], plan.notifications)
        if average is None or not wanted:
            return
        started = await self._started_at(run_id)
        for delivery in sorted(wanted, key=lambda d: d.overtime_percent):
            due = started + decide.overtime(average, delivery.overtime_percent)
            await asyncio.sleep(max(0.0, (due - self._clock.now()).total_seconds()))
            view = self._store.get(run_id)
            if view is None or view.status.finished:
                return
            await asyncio.to_thread(claims.catch_up)  # hours of records, perhaps: not on the loop, not locked
            # Its own task: the run ending while this one is sent must not cut it off mid-way.
            self._start(run_id, self._deliver(view, delivery, plan, claims, average))

    async def _started_at(self, run_id: str) -> datetime:
        position = self._ledger.end()
        view = self._store.get(run_id)
        if view is not None and view.started_at:
            return parse_time(view.started_at)
        while True:
            for after, record in self._ledger.read(position):
                position = after  # read on from where it stopped
                if record.get("run") == run_id and record.get("type") == "run.started":
                    return parse_time(record["time"])
            await asyncio.sleep(START_POLL_SECONDS)

    async def _end(self, view: RunView, plan: _Plan, claims: Claims) -> None:
        # The runs before it as they ended, not as they were when it was requested: one requested while
        # another ran must see how that one ended (else `recovered` is told twice, or never).
        previous = self._guarded(lambda: self._previous(view.orchestration, view.id), view.id) or plan.previous
        events = decide.end_events(view, previous)
        # What was recorded while it ran is read now, off the loop and without the ledger's lock, so the
        # claims below read only what comes after.
        await asyncio.to_thread(claims.catch_up)
        wanted = decide.deliveries(view, events, plan.notifications)
        await asyncio.gather(*(self._deliver(view, d, plan, claims) for d in wanted))

    # -- one delivery ------------------------------------------------------------------------------

    async def _deliver(
        self, view: RunView, delivery: Delivery, plan: _Plan, claims: Claims, average: timedelta | None = None
    ) -> None:
        """Claim, send, record the outcome; never raises (a delivery never fails anything else)."""
        try:
            await self._deliver_once(view, delivery, plan, claims, average)
        except Exception as exc:  # a notification must never take the run or the reconciler down
            self._log("notification error", {"run": view.id, "key": delivery.key, "error": str(exc)})

    async def _deliver_once(
        self, view: RunView, delivery: Delivery, plan: _Plan, claims: Claims, average: timedelta | None
    ) -> None:
        fields: dict[str, Any] = {
            "run": view.id,
            "orchestration": view.orchestration,
            "event": delivery.event.value,
            "channel": delivery.channel.value,
            "recipient": delivery.recipient,
        }
        target, problem = self._resolve(delivery.target) if delivery.channel is Channel.WEBHOOK else ("", None)
        if delivery.channel is Channel.EMAIL and plan.definition.project.smtp is None:
            problem = "no smtp server in orchrecon.yaml (spec.smtp) of the run's revision"
        elif delivery.channel is Channel.EMAIL:
            problem = self._credentials_problem(plan)
        if target:
            fields["recipient"] = webhook_origin(target)
        if problem is not None:  # nothing can be attempted: the failure is the claim
            if claims.claim({"type": FAILED, **fields, "attempts": 0, "error": problem, "key": delivery.key}):
                self._log("notification failed", {**fields, "attempts": 0, "error": problem})
            return
        if not claims.claim({"type": SENDING, **fields, "key": delivery.key}):
            return  # another process (or an earlier life of this one) has it
        outcome = await self._send(view, delivery, plan, target, average)
        kind = SENT if outcome.sent else FAILED
        error = {"error": outcome.error} if outcome.error else {}
        try:
            self._ledger.append([{"type": kind, **fields, "attempts": outcome.attempts, **error, "key": delivery.key}])
        except StorageError as exc:  # sent or not, the claim stands: it is never sent again
            self._log("notification not recorded", {**fields, "error": exc.reason})
        self._log("notification sent" if outcome.sent else "notification failed", {**fields, **error})

    def _resolve(self, target: EnvValue) -> tuple[str, str | None]:
        """The webhook's URL, or why there is none."""
        if isinstance(target, FromEnv):
            url = self._environ.get(target.var, "")
            if not url:
                return "", f"environment variable {target.var} (the webhook's URL) is not set"
        else:
            url = target
        if not url.startswith(("http://", "https://")):
            shown = f"environment variable {target.var}" if isinstance(target, FromEnv) else "the webhook"
            return "", f"{shown} holds no http:// or https:// URL"
        return url, None

    def _env(self, value: EnvValue | None) -> tuple[str | None, str | None]:
        if value is None:
            return None, None
        if isinstance(value, FromEnv):
            found = self._environ.get(value.var)
            return (found, None) if found else (None, f"environment variable {value.var} is not set")
        return value, None

    def _credentials_problem(self, plan: _Plan) -> str | None:
        smtp = plan.definition.project.smtp
        assert smtp is not None
        for what, value in (("username", smtp.username), ("password", smtp.password)):
            _, problem = self._env(value)
            if problem:
                return f"smtp {what}: {problem}"
        return None

    async def _send(
        self, view: RunView, delivery: Delivery, plan: _Plan, url: str, average: timedelta | None
    ) -> Outcome:
        if delivery.channel is Channel.WEBHOOK:
            return await webhook.post(url, decide.webhook_body(view, delivery.event, average), self.policy)
        smtp = plan.definition.project.smtp
        assert smtp is not None
        username, _ = self._env(smtp.username)
        password, _ = self._env(smtp.password)
        return await email.send(
            smtp,
            to=str(delivery.target),
            subject=decide.subject(view, delivery.event),
            body=decide.email_body(view, delivery.event, average),
            username=username,
            password=password,
            policy=self.policy,
        )

    def _guarded(self, work: Callable[[], _T], run_id: str) -> _T | None:
        try:
            return work()
        except Exception as exc:  # a damaged record must not stop the run
            self._log("notification error", {"run": run_id, "error": str(exc)})
            return None

    # -- after a restart ---------------------------------------------------------------------------

    def sweep(self) -> Coroutine[Any, Any, None] | None:
        """Settle what a dead process left (see the module's docstring); returns the deliveries still to
        make, to run in the background, or None if there are none. Never raises: a reconciler starts
        whatever its notifications' state."""
        try:
            return self._sweep()
        except Exception as exc:
            self._log("notification error", {"error": f"looking for notifications left to send: {exc}"})
            return None

    def _sweep(self) -> Coroutine[Any, Any, None] | None:
        now = self._clock.now()
        _, records, end = recent_records(self._ledger, now - SWEEP_WINDOW)
        kinds: dict[str, set[str]] = {}
        claimed: dict[str, Record] = {}
        finished: list[str] = []
        for record in records:
            kind = record.get("type")
            if kind in (SENDING, SENT, FAILED) and isinstance(record.get("key"), str):
                kinds.setdefault(record["key"], set()).add(kind)
                if kind == SENDING:
                    claimed[record["key"]] = record
            elif kind == "run.finished" and parse_time(record["time"]) >= now - SWEEP_WINDOW:
                finished.append(str(record["run"]))
        claims = Claims(self._ledger, end, known=kinds)
        late: list[Record] = []
        for key, claim in claimed.items():
            if kinds[key] & {SENT, FAILED}:
                continue
            if (now - parse_time(claim["time"])).total_seconds() >= self.policy.budget:
                self._interrupted(claims, claim)
            else:
                late.append(claim)  # perhaps still being sent by a live process: looked at once it cannot be
        work: list[Coroutine[Any, Any, None]] = []
        for run_id in finished:
            plan = self._guarded(functools.partial(self._plan, run_id), run_id)
            if plan is None or "project" not in plan.request["definition"]:
                continue  # recorded before runs were notified: never notified late
            view = self._store.get(run_id)
            if view is None:
                continue
            events = decide.end_events(view, plan.previous)
            for delivery in decide.deliveries(view, events, plan.notifications):
                if not claims.has(delivery.key):
                    work.append(self._deliver(view, delivery, plan, claims))
        if not work and not late:
            return None
        return self._after_sweep(work, late, claims)

    async def _after_sweep(self, work: list[Coroutine[Any, Any, None]], late: list[Record], claims: Claims) -> None:
        async def recheck() -> None:
            for claim in late:
                due = parse_time(claim["time"]) + timedelta(seconds=self.policy.budget)
                await asyncio.sleep(max(0.0, (due - self._clock.now()).total_seconds()))
                self._interrupted(claims, claim)

        await asyncio.gather(*work, recheck())

    def _interrupted(self, claims: Claims, claim: Record) -> None:
        fields: dict[str, Any] = {
            k: claim[k] for k in ("run", "orchestration", "event", "channel", "recipient") if k in claim
        }
        record = {"type": FAILED, **fields, "attempts": 1, "error": INTERRUPTED, "key": claim["key"]}
        try:
            if claims.interrupted(record):
                self._log("notification failed", {**fields, "error": INTERRUPTED})
        except StorageError as exc:
            self._log("notification not recorded", {**fields, "error": exc.reason})


def _subscribed(documents: Mapping[str, Any]) -> bool:
    """Whether the recorded definition has any notification, its orchestration's or its project's."""
    orchestration = (documents.get("orchestration") or {}).get("spec") or {}
    project = (documents.get("project") or {}).get("spec") or {}
    return bool(orchestration.get("notifications") or project.get("notifications"))
