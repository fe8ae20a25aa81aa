"""One thread makes a process's statements on its session: ledger appends and configuration locks' takes and
releases. What waits together goes to the database together: the appends as one statement (a group commit),
the releases as one, the takes as one. Eight tasks ending at once cost a round trip or two, not sixteen, and the
event loop awaits them (`committed`) instead of blocking on each.

Within a round the appends go first, then the releases, then the takes: a release never comes before the record
asked for ahead of it (a lock is held until its task's end is recorded), and a take asked for after a release of
the same lock comes after it. Other statements that must keep their place (a guarded decision) go alone, in
order (`call`)."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from orchrecon.store.records import Record

T = TypeVar("T")


@dataclass
class _Append:
    records: list[Mapping[str, Any]]
    future: Future[list[Record]] = field(default_factory=Future)


@dataclass
class _Take:
    name: str
    future: Future[bool] = field(default_factory=Future)


@dataclass
class _Release:
    name: str


@dataclass
class _Call:
    fn: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


_Job = _Append | _Take | _Release | _Call


@dataclass
class _Round:
    """The jobs of one round between two calls, by kind."""

    appends: list[_Append] = field(default_factory=list)
    releases: list[_Release] = field(default_factory=list)
    takes: list[_Take] = field(default_factory=list)


class GroupAppender:
    """Statements through `append(records) -> written` (one transaction), `take(names) -> taken` and
    `release(names)`, from a thread of its own started on first use; `close` lets it finish what was asked,
    then ends it (it starts again if asked for more)."""

    def __init__(
        self,
        append: Callable[[Sequence[Mapping[str, Any]]], list[Record]],
        take: Callable[[Sequence[str]], list[bool]],
        release: Callable[[Sequence[str]], None],
    ) -> None:
        self._append, self._take, self._release = append, take, release
        # Each thread has a queue of its own: one started after a close never takes the jobs (or the end) of the
        # one that is closing.
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def append(self, records: Sequence[Mapping[str, Any]]) -> Future[list[Record]]:
        """`records` written (with their seqs), once their group commits."""
        job = _Append(list(records))
        self._put(job, lambda: self._append(job.records))
        return job.future

    def take(self, name: str) -> Future[bool]:
        """Whether the lock `name` was taken (False: someone holds it, this process too)."""
        job = _Take(name)
        self._put(job, lambda: self._take([name])[0])
        return job.future

    def release(self, name: str) -> None:
        """Release the lock `name`, after the appends asked for before; no one waits for it."""
        self._put(_Release(name), lambda: self._release([name]))

    def call(self, fn: Callable[[], T]) -> Future[T]:
        """`fn()` in this thread, after everything asked for before it."""
        job = _Call(fn)
        self._put(job, fn)
        return job.future

    def close(self) -> None:
        """Let the thread finish every job asked for so far, then end it."""
        with self._starting:
            thread, jobs, self._thread = self._thread, self._jobs, None
            self._jobs = queue.SimpleQueue()
        if thread is not None:
            jobs.put(None)
            if thread is not threading.current_thread():
                thread.join()

    def _put(self, job: _Job, now: Callable[[], Any]) -> None:
        if threading.current_thread() is self._thread:  # asked for by a job: waiting for itself would never end
            future = getattr(job, "future", None)
            if future is None:
                now()
            else:
                _settle(future, now)
            return
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, args=(self._jobs,), name="orchrecon-appender", daemon=True
                )
                self._thread.start()
            self._jobs.put(job)

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        ending = False
        while not ending:
            batch = [jobs.get()]
            with_more = True
            while with_more:  # every job waiting now joins this round
                try:
                    batch.append(jobs.get_nowait())
                except queue.Empty:
                    with_more = False
            ending = None in batch  # the jobs queued before the end are done all the same
            round_ = _Round()
            for job in batch:
                if isinstance(job, _Append):
                    round_.appends.append(job)
                elif isinstance(job, _Take):
                    round_.takes.append(job)
                elif isinstance(job, _Release):
                    round_.releases.append(job)
                elif job is not None:
                    self._write(round_)
                    round_ = _Round()
                    _settle(job.future, job.fn)
            self._write(round_)

    def _write(self, round_: _Round) -> None:
        """A statement per kind: each job gets its own answer, or the error that refused its statement. Nothing
        ends this thread: a failure it did not foresee fails the round's jobs, and the next round goes on."""
        try:
            self._write_round(round_)
        except BaseException as exc:
            futures: list[Future[Any]] = [job.future for job in round_.appends] + [job.future for job in round_.takes]
            for future in futures:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))

    def _write_round(self, round_: _Round) -> None:
        # A job its asker gave up on (a cancelled future) is left out: its records are not written, its lock not
        # taken (which the asker would never release).
        appends = [job for job in round_.appends if job.future.set_running_or_notify_cancel()]
        takes = [job for job in round_.takes if job.future.set_running_or_notify_cancel()]
        if appends:
            self._write_appends(appends)
        if round_.releases:
            # A release refused changes nothing (the session is gone, and its locks with it); this thread lives on.
            with contextlib.suppress(Exception):
                self._release([job.name for job in round_.releases])
        if takes:
            try:
                taken = self._take([job.name for job in takes])
            except Exception as exc:
                for job in takes:
                    job.future.set_exception(exc)
            else:
                for job, answer in zip(takes, taken, strict=True):
                    job.future.set_result(answer)

    def _write_appends(self, group: list[_Append]) -> None:
        try:
            written = self._append([r for job in group for r in job.records])
        except Exception as exc:
            for job in group:
                job.future.set_exception(exc)
            return
        start = 0
        for job in group:
            job.future.set_result(written[start : start + len(job.records)])
            start += len(job.records)


def _settle(future: Future[Any], fn: Callable[[], Any]) -> None:
    if not future.set_running_or_notify_cancel():
        return  # given up on by whoever asked: nothing to run
    try:
        result = fn()
    except BaseException as exc:
        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
    else:
        future.set_result(result)


async def committed(future: Future[T]) -> T:
    """The result of a statement being made. A cancel that comes meanwhile waits until it is done (the caller
    must know of a record the ledger holds, or of a lock it now holds) and is delivered at the caller's next
    await."""
    waiting = asyncio.wrap_future(future)
    cancelled = False
    try:
        while True:
            try:
                return await asyncio.shield(waiting)
            except asyncio.CancelledError:
                if waiting.cancelled():
                    raise
                cancelled = True
    finally:
        if cancelled:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # the cancel counted once, as if it came now
                task.cancel()
