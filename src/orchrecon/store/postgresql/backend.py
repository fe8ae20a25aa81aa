"""The state database behind the store's ports (`ports.LedgerPort`, `ports.LockSpace`): what every command uses
when ORCHRECON_STATE_URL (or `--state`) names a database.

A position is `Position(0, seq)`. Reads and index catch-ups see only committed records, in seq order, with no
gaps (see `ledger`). The index of runs stays a local SQLite file folded from the table, as it is from the JSONL
ledger: a cache, checked against the record it ends at. Locks are session advisory locks (see `locks`); each
also has a local file, for the note a run leaves when the database refuses its end (see `endnotes`). Taking the
reconciler lock takes the leadership: from then on every append of this process is guarded by the epoch, so
once another reconciler leads, this one's next append raises `FencedError` and records nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from orchrecon.clock import Clock, format_time
from orchrecon.errors import writing
from orchrecon.store.ledger import Position
from orchrecon.store.locks import acquire_polling
from orchrecon.store.postgresql.appender import GroupAppender, committed
from orchrecon.store.postgresql.database import Database, DatabaseError
from orchrecon.store.postgresql.ledger import CHANNEL, Decide, TableLedger
from orchrecon.store.postgresql.locks import LEADERSHIP, AdvisoryLocks
from orchrecon.store.postgresql.schema import check
from orchrecon.store.records import Damage, Record, line_of

WATCH_TICK_SECONDS = 0.5  # how soon a stopped watch notices
WATCH_RETRY_SECONDS = 1.0


class DatabaseLedger:
    """The table ledger as a `LedgerPort`. `epoch`, once set (by taking the leadership), guards every append."""

    def __init__(self, database: Database, clock: Clock, session: AdvisoryLocks) -> None:
        self.table = TableLedger(database, clock, session=session)
        self._database = database
        self.epoch: int | None = None
        self._appender = GroupAppender(self._append_now, session.try_acquire_many, session.release_many)

    @property
    def shown(self) -> str:
        return self._database.shown

    def append(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        return self._appender.append(records).result() if records else []

    async def append_async(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        return await committed(self._appender.append(records)) if records else []

    def take(self, name: str) -> Future[bool]:
        """Take the lock `name` if it is free, in the appends' thread (with others asked for meanwhile)."""
        return self._appender.take(name)

    def release_later(self, name: str) -> None:
        """Release the lock `name` in the appends' thread, after the appends asked for before."""
        self._appender.release(name)

    def _append_now(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        epoch = self.epoch  # as it is when the group is written: a leadership taken since guards it
        return self.table.append(records) if epoch is None else self.table.append_guarded(records, epoch)

    def append_at(self, records: Sequence[Mapping[str, Any]]) -> tuple[list[Record], Position]:
        written = self.append(records)
        return written, Position(0, written[-1]["seq"]) if written else self.end()

    def append_guarded(self, since: Position, decide: Decide) -> tuple[list[Record], Position]:
        # In the appends' thread, in its place among them: a decision sees every record asked for before it.
        decided = self._appender.call(lambda: self.table.append_decided(since.offset, decide, epoch=self.epoch))
        written, last = decided.result()
        return written, Position(0, last)

    def append_one(self, type_: str, **fields: Any) -> Record:
        return self.append([{"type": type_, **fields}])[0]

    def sync(self) -> None:
        self.table.sync()

    async def sync_async(self) -> None:
        await asyncio.to_thread(self.table.sync)

    def read(
        self,
        start: Position | None = None,
        *,
        after_seq: int | None = None,
        on_damage: Callable[[Damage], None] | None = None,
    ) -> Iterator[tuple[Position, Record]]:
        after = max(start.offset if start else 0, after_seq or 0)
        for record in self.table.read(after):
            yield Position(0, record["seq"]), record

    def end(self) -> Position:
        return Position(0, self.table.last_seq())

    def since(self, time: datetime) -> Position:
        """Just before the last record no newer than `time`, found by bisecting the seqs (times only grow along
        them: each append takes its time under the head row's lock)."""
        wanted = format_time(time)
        low, high = 0, self.table.last_seq()  # the answer's seq lies in [low, high]
        while low < high:
            middle = (low + high + 1) // 2
            found = self.table.time_of(middle)
            if found is not None and found <= wanted:
                low = middle
            else:
                high = middle - 1
        return Position(0, max(low - 1, 0))

    def mark(self) -> tuple[int, ...] | None:
        return (self.table.last_seq(),)

    def lines(self, spans: Sequence[tuple[int, int, int]]) -> list[bytes] | None:
        found = self.table.texts_at([end for _, _, end in spans])
        if any(end not in found for _, _, end in spans):
            return None
        return [line_of(found[end]) for _, _, end in spans]

    def watch(self, wake: Callable[[], None]) -> Callable[[], None] | None:
        """`wake` on each NOTIFY the appends send, in a thread of its own with its own connection. A connection that
        fails is made again after WATCH_RETRY_SECONDS, with a `wake` then: what was appended meanwhile is read."""
        stopped = threading.Event()

        def listen() -> None:
            while not stopped.is_set():
                try:
                    with self._database.connect() as conn:
                        conn.execute(f"LISTEN {CHANNEL}")
                        wake()  # appends before the LISTEN are read now
                        while not stopped.is_set():
                            if any(True for _ in conn.notifies(timeout=WATCH_TICK_SECONDS)):
                                wake()
                except (psycopg.Error, DatabaseError):
                    stopped.wait(WATCH_RETRY_SECONDS)

        thread = threading.Thread(target=listen, name="orchrecon-ledger-listen", daemon=True)
        thread.start()

        def stop() -> None:
            stopped.set()
            thread.join()

        return stop

    def drain(self) -> None:
        """Wait until what was asked of the appends' thread is done (it starts again if asked for more)."""
        self._appender.close()

    def close(self) -> None:
        self._appender.close()
        self.table.close()


class AdvisoryLock:
    """One named advisory lock as a `ports.Lock`."""

    def __init__(
        self, space: AdvisoryLockSpace, name: str, path: Path, *, note: bool = False, busy: bool = False
    ) -> None:
        """`busy`: taken and released once per task, so off the event loop (a configuration's lock)."""
        self._space = space
        self.name = name
        self.path = path
        self._note = note  # a run's lock: its local file holds the run's end if the database refuses it
        self._busy = busy

    @property
    def held(self) -> bool:
        return self.name in self._space.locks.held

    def try_acquire(self, holder: Mapping[str, Any] | None = None) -> bool:
        if not self._space.locks.try_acquire(self.name):
            return False
        if self._note:
            with writing("cannot open", self.path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.touch()
        return True

    async def acquire(
        self,
        *,
        stop: Callable[[], bool] = lambda: False,
        holder: Mapping[str, Any] | None = None,
        busy: Callable[[], None] | None = None,
    ) -> bool:
        if self._busy:  # in the appends' thread, with the takes asked for meanwhile: the loop goes on
            return await acquire_polling(lambda: committed(self._space.ledger.take(self.name)), stop=stop, busy=busy)
        return await acquire_polling(lambda: self.try_acquire(holder), stop=stop, busy=busy)

    def lost(self) -> bool:
        return self._space.lost(self.name)

    def release(self, *, remove: bool = False) -> None:
        if not self.held:
            return
        if remove and self._note:
            self.path.unlink(missing_ok=True)  # while still held, as with flock
        if self._busy:
            # In the appends' thread, after the task's last record: the loop goes on at once, and a take asked for
            # after this release comes after it there.
            self._space.ledger.release_later(self.name)
        else:
            self._space.locks.release(self.name)


class LeadershipLock(AdvisoryLock):
    """The reconciler lock: taking it increments the epoch, which then guards this process's appends."""

    def try_acquire(self, holder: Mapping[str, Any] | None = None) -> bool:
        epoch = self._space.locks.take_leadership()
        if epoch is None:
            return False
        self._space.taken(self.name)
        self._space.ledger.epoch = epoch
        return True

    def release(self, *, remove: bool = False) -> None:
        self._space.ledger.epoch = None
        self._space.locks.release(self.name)


class AdvisoryLockSpace:
    """The state database's locks (`ports.LockSpace`); `folder` is the local state directory's `locks/`."""

    def __init__(self, locks: AdvisoryLocks, ledger: DatabaseLedger, folder: Path) -> None:
        self.locks = locks
        self.ledger = ledger
        self._folder = folder
        self._lost: set[str] = set()  # locks whose session ended under us

    def orchestration(self, name: str) -> AdvisoryLock:
        return AdvisoryLock(self, f"orchestration.{name}", self._folder / f"orchestration.{name}.lock")

    def config(self, ref: str, *, keep_open: bool = False) -> AdvisoryLock:
        return AdvisoryLock(self, f"config.{ref}", self._folder / f"config.{ref.replace('/', '.')}.lock", busy=True)

    def reconciler(self) -> AdvisoryLock:
        return LeadershipLock(self, LEADERSHIP, self._folder / "reconciler.lock")

    def run(self, run_id: str) -> AdvisoryLock:
        return AdvisoryLock(self, f"run.{run_id}", self._folder / f"run.{run_id}.lock", note=True)

    def taken(self, name: str) -> None:
        self._lost.discard(name)

    def lost(self, name: str) -> bool:
        """Whether `name`'s session ended since it was taken (and it was not released)."""
        self._lost |= self.locks.lost()
        return name in self._lost and name not in self.locks.held

    def holder(self, lock: object) -> dict[str, Any] | None:
        return None  # not recorded in the database yet: people see that the task waits, not for whom

    def close(self) -> None:
        self.ledger.drain()  # the releases asked of the appends' thread are done before the connections close
        self.locks.close()


def open_database(url: str, clock: Clock, folder: Path) -> tuple[DatabaseLedger, AdvisoryLockSpace]:
    """The ledger and locks of the database at `url` (checked: its schema must be this orchrecon's)."""
    database = Database(url)
    with database.connect() as conn:
        try:
            check(conn)
        except psycopg.Error as exc:
            raise database.error("cannot use", exc) from None
    locks = AdvisoryLocks(database)
    ledger = DatabaseLedger(database, clock, locks)  # its appends share the locks' session: see AdvisoryLocks
    return ledger, AdvisoryLockSpace(locks, ledger, folder)
