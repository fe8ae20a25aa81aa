"""Session-level advisory locks: held by a connection until released or until its session ends.

The server frees a session's locks when the session ends, however it ends: the process exits or is killed,
its connection is cut (noticed by the keepalives within ~10 s) or terminated (`pg_terminate_backend`). So, as
with flock, a dead holder never blocks anyone. A name becomes the lock's two int4 keys through a BLAKE2b hash
(stable across processes, machines and Python versions, unlike `hash`).

`try_acquire` takes a lock on the dedicated connection. `acquire` waits in the server's queue, so waiters get the
lock in the order they asked for it; it waits on a connection of its own, which then holds that lock until it is
released, so a wait never holds up the other locks' statements. Leadership is the lock `reconciler.leadership`
plus the epoch row: taking it increments the epoch, and every guarded ledger append checks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import struct
import threading
from collections.abc import Callable, Sequence

import psycopg

from orchrecon.store.ports import NotLeaderError
from orchrecon.store.postgresql.database import Connection, Database, DatabaseError

POLL_SECONDS = 0.02  # how often a waiting `acquire` looks at `stop`
_TRY_MANY = (
    "SELECT pg_try_advisory_lock(k1, k2), pg_backend_pid()"
    " FROM unnest(%s::int4[], %s::int4[]) WITH ORDINALITY AS t(k1, k2, n) ORDER BY n"
)
_UNLOCK_MANY = "SELECT pg_advisory_unlock(k1, k2) FROM unnest(%s::int4[], %s::int4[]) AS t(k1, k2)"
LEADERSHIP = "reconciler.leadership"


def lock_keys(name: str) -> tuple[int, int]:
    """The advisory lock's two signed 32-bit keys for `name`."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"orchrecon.lock").digest()
    first, second = struct.unpack(">ii", digest)
    return first, second


class PoolingProxyError(DatabaseError):
    """The connection's statements reached different server sessions: a transaction-pooling proxy, which
    breaks session locks."""

    retryable = False


class SessionEndedError(DatabaseError, NotLeaderError):
    """An append by a process whose locks' session ended (its connection was cut or terminated): another process
    may have taken its locks and recorded its runs' ends, so it records nothing more."""


class AdvisoryLocks:
    """One process's advisory locks on the state database. Each name is held at most once at a time, also
    within this process (as `FileLock` is). Raises `DatabaseError` when the database cannot be reached.

    The ledger appends of the process go through the same session (`session`): an append can only commit while
    the session holding the process's locks lives, so once it ends (and another process may recover its runs),
    nothing more is recorded for them. That fences every lock holder, not only the leader."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._mutex = threading.Lock()
        self._main: Connection | None = None
        self._pids: dict[int, int] = {}  # id(connection) -> its server session's pid, seen when it connected
        self._holders: dict[str, Connection] = {}  # name -> the connection holding it
        self._ended: str | None = None  # why the session that held locks ended, once it has
        self._gone: set[str] = set()  # locks found gone with their session, until `lost` tells them

    def __repr__(self) -> str:
        return f"AdvisoryLocks({self._database.shown!r}, held={sorted(self._holders)})"

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._holders)

    def backend_pid(self) -> int:
        """The server process of the dedicated connection (the one `pg_terminate_backend` would end)."""
        with self._mutex:
            conn = self._connection()
            return self._pids[id(conn)]

    def try_acquire(self, name: str) -> bool:
        """Take the lock if it is free; never waits. False also when this process already holds it."""
        return self.try_acquire_many([name])[0]

    def try_acquire_many(self, names: Sequence[str]) -> list[bool]:
        """`try_acquire` of each name, in one statement; a name asked for twice is taken once."""
        with self._mutex:
            wanted = [n for n in dict.fromkeys(names) if n not in self._holders]
            if not wanted:
                return [False] * len(names)
            conn = self._connection()
            keys = [lock_keys(n) for n in wanted]
            try:
                rows = conn.execute(_TRY_MANY, ([k[0] for k in keys], [k[1] for k in keys])).fetchall()
            except psycopg.Error as exc:
                # The session holding this process's locks ended under the statement (terminated, cut): the
                # same news as a refused append, which a leader must hear before its heartbeat tells it.
                self.session_failed(conn)
                if self._ended is not None:
                    raise SessionEndedError(self._ended) from None
                raise self._database.error(f"cannot lock {', '.join(wanted[:3])} in", exc) from None
            self._check_session(conn, *(pid for _, pid in rows))
            taken = {n for n, (got, _) in zip(wanted, rows, strict=True) if got}
            for name in taken:
                self._holders[name] = conn
            answers = []
            for name in names:
                answers.append(name in taken)
                taken.discard(name)  # asked for twice: the second finds it held
            return answers

    async def acquire(self, name: str, *, stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait for the lock without blocking the event loop, in the order of asking; False if `stop()`
        became true first."""
        if self.try_acquire(name):
            return True
        waiter = await asyncio.to_thread(self._connect)
        query = asyncio.ensure_future(
            asyncio.to_thread(self._call, waiter, "SELECT true, pg_backend_pid() FROM pg_advisory_lock(%s, %s)", name)
        )
        try:
            while not query.done():
                if stop():
                    waiter.cancel_safe()
                    break
                await asyncio.wait({query}, timeout=POLL_SECONDS)
            await query
        except psycopg.errors.QueryCanceled:
            self._close(waiter)
            return False
        except BaseException:
            if query.done():
                self._close(waiter)
            else:  # cancelled while waiting: stop the statement, then close its connection
                waiter.cancel_safe()
                query.add_done_callback(lambda _: self._close(waiter))
            raise
        with self._mutex:  # no one else has it meanwhile: our session holds it
            self._holders[name] = waiter
        return True

    def release(self, name: str) -> None:
        """Release the lock if this process holds it."""
        self.release_many([name])

    def release_many(self, names: Sequence[str]) -> None:
        """`release` of each name; those held on the dedicated connection in one statement."""
        with self._mutex:
            held = [(n, c) for n in dict.fromkeys(names) if (c := self._holders.pop(n, None)) is not None]
            on_main = [lock_keys(n) for n, c in held if c is self._main]
            if on_main and self._main is not None:
                with contextlib.suppress(psycopg.Error):  # the session is gone, and the locks with it
                    self._main.execute(_UNLOCK_MANY, ([k[0] for k in on_main], [k[1] for k in on_main]))
            for name, conn in held:
                if conn is not self._main:  # a lock taken after a wait: its connection holds only it
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock_keys(name))
                    self._close(conn)

    @property
    def mutex(self) -> threading.Lock:
        """Held while a statement runs on the session (`session`), by the locks and by the ledger's appends."""
        return self._mutex

    def session(self) -> Connection:
        """The session's connection, for a ledger append (call it holding `mutex`). Raises `SessionEndedError`
        once the session that held this process's locks has ended."""
        if self._ended is not None:
            raise SessionEndedError(self._ended)
        conn = self._connection()
        if self._ended is not None:  # found ended just now, while reconnecting
            raise SessionEndedError(self._ended)
        return conn

    def session_failed(self, conn: Connection) -> None:
        """A statement on the session failed (call it holding `mutex`): if its connection broke, the locks it held
        are gone."""
        if conn is self._main and (conn.broken or conn.closed):
            self._end(conn)
            self._close(conn)
            self._main = None

    def _end(self, conn: Connection) -> None:
        """`conn`'s session ended: forget the locks it held; if it held any, this process appends no more."""
        gone = [n for n, c in self._holders.items() if c is conn]
        for name in gone:
            del self._holders[name]
        self._gone.update(gone)
        if gone and self._ended is None:
            self._ended = (
                f"this process's session on {self._database.shown} ended while it held {len(gone)} lock(s)"
                f" ({', '.join(sorted(gone)[:3])}{', …' if len(gone) > 3 else ''}): another process may have taken"
                " them and recorded its runs' ends, so it records nothing more"
            )

    def lost(self) -> frozenset[str]:
        """The locks this process held whose session has ended since (its connection was cut or terminated): they
        are no longer held, by it or maybe by anyone. A holder asks at each heartbeat; a leader that lost the
        leadership lock learns it here, or from `FencedError` at its next guarded append."""
        with self._mutex:
            for conn in {id(c): c for c in self._holders.values()}.values():
                try:
                    row = conn.execute("SELECT pg_backend_pid()").fetchone()
                except psycopg.Error:
                    row = None
                if row is None or row[0] != self._pids.get(id(conn)):
                    self._end(conn)
                    if conn is self._main:
                        self._main = None
                    self._close(conn)
            gone, self._gone = frozenset(self._gone), set()
            return gone

    def take_leadership(self) -> int | None:
        """Take the leadership lock if no one holds it and increment the epoch; the new epoch, or None."""
        if not self.try_acquire(LEADERSHIP):
            return None
        return self._next_epoch()

    async def acquire_leadership(self, *, stop: Callable[[], bool] = lambda: False) -> int | None:
        """Wait for the leadership lock, then increment the epoch; the new epoch, or None if `stop()` came first."""
        if not await self.acquire(LEADERSHIP, stop=stop):
            return None
        return await asyncio.to_thread(self._next_epoch)  # it may wait for guarded appends in flight

    def close(self) -> None:
        """Close every connection, which releases every lock."""
        with self._mutex:
            for conn in {id(c): c for c in [*self._holders.values(), *([self._main] if self._main else [])]}.values():
                self._close(conn)
            self._holders.clear()
            self._main = None

    def _next_epoch(self) -> int:
        """Increment the epoch on the session holding the leadership lock. The update waits for guarded appends
        in flight (they hold the row FOR SHARE), and every later one sees the new epoch."""
        with self._mutex:
            conn = self._holders[LEADERSHIP]
            try:
                row = conn.execute("UPDATE orchrecon.leadership SET epoch = epoch + 1 RETURNING epoch").fetchone()
            except psycopg.Error as exc:
                self._holders.pop(LEADERSHIP)
                with contextlib.suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", lock_keys(LEADERSHIP))
                raise self._database.error("cannot take the leadership in", exc) from None
            assert row is not None
            return int(row[0])

    def _connection(self) -> Connection:
        if self._main is None or self._main.closed or self._main.broken:
            if self._main is not None:  # its session ended, and the locks it held with it
                self._end(self._main)
                self._close(self._main)
            self._main = self._connect()
        return self._main

    def _connect(self) -> Connection:
        conn = self._database.connect()
        try:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        except psycopg.Error as exc:
            conn.close()
            raise self._database.error("cannot use", exc) from None
        assert row is not None
        self._pids[id(conn)] = int(row[0])
        return conn

    def _call(self, conn: Connection, query: str, name: str) -> bool:
        """Run a lock statement returning (result, pg_backend_pid()); refuse a session that changed."""
        try:
            row = conn.execute(query, lock_keys(name)).fetchone()
        except psycopg.errors.QueryCanceled:
            raise
        except psycopg.Error as exc:
            raise self._database.error(f"cannot lock {name} in", exc) from None
        assert row is not None
        self._check_session(conn, row[1])
        return bool(row[0])

    def _check_session(self, conn: Connection, *pids: int) -> None:
        """Refuse a connection whose statements reached another server session than when it connected."""
        for pid in pids:
            if pid != self._pids[id(conn)]:
                raise PoolingProxyError(
                    f"{self._database.shown}: the connection's statements reached two server sessions (pid "
                    f"{self._pids[id(conn)]}, then {pid}): a transaction-pooling proxy (PgBouncer in transaction "
                    "mode) is in between, and session locks need a direct connection or session pooling"
                )

    def _close(self, conn: Connection) -> None:
        self._pids.pop(id(conn), None)
        conn.close()
