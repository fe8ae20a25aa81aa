"""The run ledger as a table: the same records as the JSONL ledger, numbered by the database.

An append is one transaction: it increments the one-row `ledger_head` (whose row lock it then holds until it
commits), gives its records the seqs that follow, inserts them and sends a NOTIFY, delivered when it commits.
The next appender waits for that row lock, so appends commit in seq order and a reader never sees seq N+1
before N: the seqs a reader sees are always gap-free. A rolled-back append rolls its increment back too.
Once `append` returns, its records are as durable as the database's commit. A guarded append first reads the
leadership epoch FOR SHARE: a different epoch means another reconciler took the leadership, and the append
raises `FencedError` having written nothing; holding the row until commit makes a new leader's increment wait
for the appends still in flight. A decided append reads what was appended since a seq while holding the head
row, and appends what its `decide` makes of it, as the JSONL ledger's `append_guarded` does under its file lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from orchrecon.clock import Clock, format_time
from orchrecon.errors import OrchreconError
from orchrecon.store.ledger import VERSION
from orchrecon.store.ports import NotLeaderError
from orchrecon.store.postgresql.database import Connection, Database, DatabaseError
from orchrecon.store.postgresql.locks import AdvisoryLocks, SessionEndedError
from orchrecon.store.records import Record

CHANNEL = "orchrecon_ledger"  # NOTIFY's payload is the last seq appended
READ_BATCH = 1000
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # as `records.encode`, less the checksum
_INSERT = (
    "WITH added AS (INSERT INTO orchrecon.ledger (seq, record)"
    " SELECT * FROM unnest(%s::bigint[], %s::text[]::json[]) RETURNING seq)"
    f" SELECT pg_notify('{CHANNEL}', max(seq)::text) FROM added"
)
# The bodies go in binary (%b): as a text array, each would be escaped quote by quote, a regex per body.
_APPEND = "SELECT first, stamp FROM orchrecon.append(%b::text[], %s, %s, %s)"
_FIRST = frozenset({"v", "seq", "time"})  # a record giving these itself takes the transaction's way
_READ = "SELECT record FROM orchrecon.ledger WHERE seq > %s ORDER BY seq LIMIT %s"
_TEXT_AT = "SELECT seq, record::text FROM orchrecon.ledger WHERE seq = ANY(%s)"
_TIME = "SELECT record->>'time' FROM orchrecon.ledger WHERE seq = %s"
_READ_ALL = "SELECT record FROM orchrecon.ledger WHERE seq > %s ORDER BY seq"

_FOLLOWING = "cannot follow the ledger in"

Decide = Callable[[list[Record]], Sequence[Mapping[str, Any]]]


class FencedError(DatabaseError, NotLeaderError):
    """A guarded append by a reconciler whose leadership epoch is no longer the database's: another one leads
    now. Nothing was appended; the caller stops dispatching and steps down."""

    def __init__(self, epoch: int, current: int) -> None:
        self.epoch, self.current = epoch, current
        super().__init__(
            f"not the leader any more: this reconciler's leadership epoch is {epoch}, the database's is {current} "
            "(another reconciler took the leadership); nothing was recorded"
        )


class TableLedger:
    """The ledger in the state database (migrated: see `schema`). Appends from threads of one process share its
    connection, one at a time; `follow` uses a connection of its own. Raises `DatabaseError` when the database
    cannot be reached or refuses a statement (the next call connects again)."""

    def __init__(self, database: Database, clock: Clock, *, session: AdvisoryLocks | None = None) -> None:
        """With `session`, appends go through the session holding the process's locks (see `AdvisoryLocks`)."""
        self._database = database
        self._clock = clock
        self._mutex = threading.Lock()
        self._conn: Connection | None = None
        self._session = session
        self._relaxed: Connection | None = None  # the connection told not to wait for WAL flushes
        self._unsynced = False  # an append since the last sync

    def __repr__(self) -> str:
        return f"TableLedger({self._database.shown!r})"

    def append(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        """Append `records` (each with a `type`) in order with consecutive seqs, in one transaction; returns them
        complete (`v`, `seq`, `time` first, as the JSONL ledger writes them)."""
        return self._append(records, None)[0] if records else []

    def append_guarded(self, records: Sequence[Mapping[str, Any]], epoch: int) -> list[Record]:
        """`append`, if `epoch` is still the leadership epoch when it commits; else raises `FencedError` and
        appends nothing. With no records it only checks the epoch."""
        return self._append(records, epoch)[0]

    def append_decided(self, after_seq: int, decide: Decide, *, epoch: int | None = None) -> tuple[list[Record], int]:
        """Append what `decide` returns after seeing every record above `after_seq`, atomically: the head row
        stays locked from the read to the commit, so no other append comes in between. Returns the records
        appended and the last seq, to pass as `after_seq` next time. This is how a decision (a schedule slot's
        run, say) is never taken twice, even by two reconcilers racing; with `epoch`, guarded as
        `append_guarded` is. An exception from `decide` appends nothing and propagates."""
        return self._append((), epoch, decide=decide, after_seq=after_seq)

    def append_one(self, type_: str, **fields: Any) -> Record:
        return self.append([{"type": type_, **fields}])[0]

    def _append(
        self,
        records: Sequence[Mapping[str, Any]],
        epoch: int | None,
        *,
        decide: Decide | None = None,
        after_seq: int = 0,
    ) -> tuple[list[Record], int]:
        with self._appending("cannot append to the ledger in") as conn:
            if decide is None and records and not any(_FIRST.intersection(r) for r in records):
                written, last = self._append_at_once(conn, records, epoch)
            else:
                written, last = self._append_in_transaction(conn, records, epoch, decide, after_seq)
        self._unsynced |= bool(written)
        return written, last

    def _append_in_transaction(
        self,
        conn: Connection,
        records: Sequence[Mapping[str, Any]],
        epoch: int | None,
        decide: Decide | None,
        after_seq: int,
    ) -> tuple[list[Record], int]:
        """`_append` as a transaction of several statements: for `decide`, which reads under the head row's lock."""
        with conn.transaction():
            if epoch is not None:
                row = conn.execute("SELECT epoch FROM orchrecon.leadership FOR SHARE").fetchone()
                assert row is not None
                if row[0] != epoch:
                    raise FencedError(epoch, row[0])
            last = after_seq
            if decide is not None:
                row = conn.execute("SELECT seq FROM orchrecon.ledger_head FOR UPDATE").fetchone()
                assert row is not None
                last = row[0]
                records = decide([r[0] for r in conn.execute(_READ_ALL, (after_seq,))])
            if not records:
                return [], last
            head = "UPDATE orchrecon.ledger_head SET seq = seq + %s, time = greatest(time, %s) RETURNING seq, time"
            row = conn.execute(head, (len(records), format_time(self._clock.now()))).fetchone()
            assert row is not None
            first, time = row[0] - len(records) + 1, row[1]  # times do not go back along seqs
            written = [{"v": VERSION, "seq": first + i, "time": time, **r} for i, r in enumerate(records)]
            conn.execute(_INSERT, ([r["seq"] for r in written], [_ENCODER.encode(r) for r in written]))
        return written, written[-1]["seq"]

    def _append_at_once(
        self, conn: Connection, records: Sequence[Mapping[str, Any]], epoch: int | None
    ) -> tuple[list[Record], int]:
        """`_append` of plain records in one statement (`orchrecon.append`), with no transaction block around it."""
        bodies = [_ENCODER.encode(r) for r in records]
        try:
            row = conn.execute(_APPEND, (bodies, format_time(self._clock.now()), epoch, VERSION)).fetchone()
        except psycopg.errors.RaiseException as exc:
            if exc.diag.message_primary != "orchrecon.fenced" or epoch is None:
                raise
            raise FencedError(epoch, int(exc.diag.message_detail or 0)) from None
        assert row is not None
        first, time = int(row[0]), str(row[1])
        written = [{"v": VERSION, "seq": first + i, "time": time, **r} for i, r in enumerate(records)]
        return written, written[-1]["seq"]

    @contextmanager
    def _appending(self, action: str) -> Iterator[Connection]:
        """The connection appends go through (the locks' session, with one), held for the caller. A statement that
        fails raises `DatabaseError` "`action` …"; a session whose connection broke learns its locks are gone."""
        with self._session.mutex if self._session else self._mutex:
            conn = self._session.session() if self._session else self._connection()
            try:
                if conn is not self._relaxed:
                    # Commits return before their WAL is flushed (see `sync`), as JSONL appends before fsync.
                    conn.execute("SET synchronous_commit = off")
                    self._relaxed = conn
                yield conn
            except psycopg.Error as exc:
                if self._session is None:
                    raise self._failed(action, exc) from None
                self._session.session_failed(conn)
                raise self._database.error(action, exc) from None

    def sync(self) -> None:
        """Make every record appended so far by this process survive a crash of the database server: a commit
        with synchronous_commit on flushes the WAL up to it, and with it every commit before."""
        if not self._unsynced:
            return
        self._unsynced = False
        try:
            with self._appending("cannot sync the ledger in") as conn, conn.transaction():
                conn.execute("SET LOCAL synchronous_commit = on")
                conn.execute("UPDATE orchrecon.ledger_head SET seq = seq")
        except SessionEndedError:
            raise  # nothing will ever be synced through it: the next sync need not try
        except DatabaseError:
            self._unsynced = True  # a statement failed: the next sync tries again, on a new connection
            raise

    def read(self, after_seq: int = 0) -> Iterator[Record]:
        """Every committed record with a seq above `after_seq`, in order (read in batches: no transaction stays
        open while the caller works)."""
        while True:
            with self._mutex:
                batch = self._batch(self._connection(), after_seq)
            yield from batch
            if len(batch) < READ_BATCH:
                return
            after_seq = batch[-1]["seq"]

    def texts_at(self, seqs: Sequence[int]) -> dict[int, bytes]:
        """The records with these seqs (those that exist), by seq, each as the JSON text the table holds."""
        with self._mutex:
            try:
                rows = self._connection().execute(_TEXT_AT, (list(seqs),)).fetchall()
            except psycopg.Error as exc:
                raise self._failed("cannot read the ledger in", exc) from None
        return {int(seq): text.encode() for seq, text in rows}

    def time_of(self, seq: int) -> str | None:
        """The `time` of the record `seq` (None: no such record)."""
        with self._mutex:
            try:
                row = self._connection().execute(_TIME, (seq,)).fetchone()
            except psycopg.Error as exc:
                raise self._failed("cannot read the ledger in", exc) from None
        return None if row is None else str(row[0])

    def last_seq(self) -> int:
        """The seq of the last committed record (0: none)."""
        with self._mutex:
            try:
                row = self._connection().execute("SELECT seq FROM orchrecon.ledger_head").fetchone()
            except psycopg.Error as exc:
                raise self._failed("cannot read the ledger in", exc) from None
        assert row is not None
        return int(row[0])

    def follow(self, after_seq: int = 0, *, idle_timeout: float | None = None) -> Iterator[Record]:
        """Every record above `after_seq`, then each one as it is committed: between reads it waits for the
        appends' NOTIFY, never polling. Ends when `idle_timeout` seconds pass with nothing new (None: never) or
        when the caller closes the iterator."""
        listener = self._database.connect()
        try:
            try:
                listener.execute(f"LISTEN {CHANNEL}")  # before the first read: no append falls in between
            except psycopg.Error as exc:
                raise self._database.error(_FOLLOWING, exc) from None
            while True:
                while batch := self._batch(listener, after_seq, _FOLLOWING):
                    yield from batch
                    after_seq = batch[-1]["seq"]
                if not self._woken(listener, idle_timeout):
                    return
        finally:
            listener.close()

    def _woken(self, listener: Connection, timeout: float | None) -> bool:
        try:
            return any(True for _ in listener.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error as exc:
            raise self._database.error(_FOLLOWING, exc) from None

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _batch(self, conn: Connection, after_seq: int, action: str = "cannot read the ledger in") -> list[Record]:
        try:
            return [row[0] for row in conn.execute(_READ, (after_seq, READ_BATCH))]
        except psycopg.Error as exc:
            if conn is not self._conn:  # a follower's own connection: it ends with the follow
                raise self._database.error(action, exc) from None
            raise self._failed(action, exc) from None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._database.connect()
        return self._conn

    def _failed(self, action: str, exc: psycopg.Error) -> OrchreconError:
        if self._conn is not None and self._conn.broken:
            self._conn.close()
            self._conn = None  # the next call connects again
        return self._database.error(action, exc)
