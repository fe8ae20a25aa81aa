"""Runs as recorded in the ledger, queried through an index that is derived from it.

The index (SQLite, `index.sqlite` in the state directory) holds each run's summary and where its
records are in the ledger. Every process catches it up from the last position it covers before
reading; a missing, damaged or foreign index is rebuilt from the ledger, which stays the only truth.
It is checked, not trusted: the line it ends at must have the hash it recorded (an index copied from a
diverged copy of the state directory ends at a different line), and every record read through it must
be sound and belong to the run asked for. Damaged ledger lines it met while folding are kept in it, so
every command knows of them without reading the whole ledger again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchrecon.errors import StorageError
from orchrecon.runs import state as runstate
from orchrecon.runs.state import RunView
from orchrecon.store import faults
from orchrecon.store.ledger import Position, Record
from orchrecon.store.ports import LedgerPort
from orchrecon.store.records import Damage, decode

SCHEMA_VERSION = "6"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, orchestration TEXT NOT NULL, seq INTEGER NOT NULL, status TEXT NOT NULL,
    trigger TEXT, requested_at TEXT, started_at TEXT, finished_at TEXT, by TEXT, retry_of TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_seq ON runs (seq);
CREATE INDEX IF NOT EXISTS runs_by_orchestration ON runs (orchestration, seq);
CREATE TABLE IF NOT EXISTS records (
    run TEXT NOT NULL, segment INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_run ON records (run);
CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, time TEXT NOT NULL, seq INTEGER NOT NULL, source TEXT);
CREATE TABLE IF NOT EXISTS marks (key TEXT PRIMARY KEY, time TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orchestrations (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS decisions (orchestration TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_by_orchestration ON decisions (orchestration, seq);
"""
# marks: a schedule's key -> the instant up to which its slots are decided; a trigger's key -> when it
# was armed. Schedules are marked by schedule.armed/fired/missed/suppressed, triggers by trigger.armed.
_SCHEDULE_MARKS = {
    "schedule.armed": "since",
    "schedule.fired": "slot",
    "schedule.missed": "slot",
    "schedule.suppressed": "slot",
}
# Decisions on schedules and triggers, kept per orchestration for its report (why something ran or not).
DECISIONS = frozenset(
    {"schedule.fired", "schedule.missed", "schedule.suppressed", "trigger.fired", "trigger.suppressed"}
)


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    id: str
    orchestration: str
    seq: int
    status: runstate.RunStatus
    trigger: str | None
    requested_at: str | None
    started_at: str | None
    finished_at: str | None
    by: str | None = None
    retry_of: str | None = None


_SUMMARY = (  # the columns `_summary` reads
    "id, orchestration, seq, status, trigger, requested_at, started_at, finished_at, by, retry_of"
)
FEW_NAMES = 500  # up to this many orchestrations are looked up by name, not by ranking every run


class RunStore:
    def __init__(
        self, ledger: LedgerPort, index: Path, *, on_damage: Callable[[list[Damage]], None] | None = None
    ) -> None:
        """`on_damage` is told once, when this process first learns that the ledger has damaged lines."""
        self._ledger = ledger
        self._index = index
        # The index in memory, built from the ledger, when index.sqlite cannot be written (a full or
        # read-only state directory): it is only a cache, so reading commands go on without it.
        self._memory: sqlite3.Connection | None = None
        self._held: sqlite3.Connection | None = None  # inside `consistent`
        # Each thread keeps its connection to index.sqlite: a long-running reconciler answering the API
        # asks thousands of questions a minute, and opening a connection costs more than most of them.
        self._local = threading.local()
        # The ledger's end (segment, size, mtime) when this process last caught the index up: while it is
        # the same, nothing was appended and the catch-up (a write transaction) is skipped.
        self._caught_up: tuple[int, ...] | None = None
        self._on_damage = on_damage
        self._damage: list[Damage] = []
        self._told = False

    @property
    def damage(self) -> list[Damage]:
        """The damaged ledger lines the index knows of, as of the last refresh, in ledger order."""
        return list(self._damage)

    # -- queries -------------------------------------------------------------------------------------

    def get(self, run_id: str) -> RunView | None:
        """The run folded from its own records, or None if there is no such run."""
        records = list(self.records(run_id))
        return runstate.fold(records).get(run_id) if records else None

    def request(self, run_id: str) -> Record | None:
        """The run's `run.requested` record (its full definition)."""
        return next((r for r in self.records(run_id) if r["type"] == "run.requested"), None)

    def records(self, run_id: str) -> list[Record]:
        """The run's records in ledger order. If the ledger no longer holds them where the index says
        (a line damaged since it was indexed), the index is rebuilt and asked again."""
        found = self._records(run_id)
        if found is None:
            self.invalidate()
            found = self._records(run_id) or []
        return found

    def _records(self, run_id: str) -> list[Record] | None:
        self.refresh()
        with self._connect() as db:
            rows = db.execute(
                "SELECT segment, start, end FROM records WHERE run = ? ORDER BY segment, start", (run_id,)
            ).fetchall()
        lines = self._ledger.lines(rows)
        if lines is None:
            return None
        found = []
        for line in lines:
            record = decode(line)
            if not isinstance(record, dict) or record.get("run") != run_id:
                return None
            found.append(record)
        return found

    def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Up to `limit` run ids that begin with `prefix`, in order (a range over the primary key)."""
        self.refresh()
        with self._connect() as db:
            rows = db.execute(
                "SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                (prefix, prefix + "\U0010ffff", limit),
            ).fetchall()
        return [row[0] for row in rows]

    def recent(self, orchestration: str | None = None, limit: int = 20) -> list[RunSummary]:
        """The most recently requested runs first."""
        self.refresh()
        query = f"SELECT {_SUMMARY} FROM runs"
        args: tuple[Any, ...] = ()
        if orchestration is not None:
            query += " WHERE orchestration = ?"
            args = (orchestration,)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY seq DESC LIMIT ?", (*args, limit)).fetchall()
        return [_summary(row) for row in rows]

    def recent_of(self, orchestrations: Collection[str], limit: int) -> dict[str, list[RunSummary]]:
        """`recent(name, limit)` for many orchestrations at once: one look at the ledger, one query."""
        self.refresh()
        wanted = set(orchestrations)
        found: dict[str, list[RunSummary]] = {name: [] for name in wanted}
        few = len(wanted) <= FEW_NAMES  # then only their rows are ranked (a status or two after each event)
        where = f" WHERE orchestration IN ({','.join('?' * len(wanted))})" if few else ""
        query = (
            f"SELECT {_SUMMARY} FROM ("
            f" SELECT *, row_number() OVER (PARTITION BY orchestration ORDER BY seq DESC) AS nth FROM runs{where}"
            ") WHERE nth <= ? ORDER BY seq DESC"
        )
        with self._connect() as db:
            for row in db.execute(query, (*(sorted(wanted) if few else ()), limit)):
                if row[1] in wanted:
                    found[row[1]].append(_summary(row))
        return found

    def latest_of(self, orchestrations: Collection[str], limit: int) -> dict[str, list[RunSummary]]:
        """`recent(name, limit)` of each orchestration through the index on (orchestration, seq): as fast
        with a million runs as with ten, when only a few runs of each are wanted (reports)."""
        if len(orchestrations) > FEW_NAMES:  # then one ranking of every run is faster
            return self.recent_of(orchestrations, limit)
        self.refresh()
        query = f"SELECT {_SUMMARY} FROM runs WHERE orchestration = ? ORDER BY seq DESC LIMIT ?"
        with self._connect() as db:
            return {name: [_summary(row) for row in db.execute(query, (name, limit))] for name in orchestrations}

    def decisions_of(self, orchestrations: Collection[str], limit: int) -> dict[str, list[Record]]:
        """The newest `limit` schedule and trigger decisions of each orchestration, newest first."""
        self.refresh()
        with self._connect() as db:
            if len(orchestrations) <= FEW_NAMES:
                query = "SELECT record FROM decisions WHERE orchestration = ? ORDER BY seq DESC LIMIT ?"
                return {n: [json.loads(row[0]) for row in db.execute(query, (n, limit))] for n in orchestrations}
            found: dict[str, list[Record]] = {name: [] for name in orchestrations}
            ranked = (
                "SELECT orchestration, record FROM (SELECT *, row_number() OVER"
                " (PARTITION BY orchestration ORDER BY seq DESC) AS nth FROM decisions)"
                " WHERE nth <= ? ORDER BY seq DESC"
            )
            for name, record in db.execute(ranked, (limit,)):
                if name in found:
                    found[name].append(json.loads(record))
            return found

    def orchestrations(self) -> set[str]:
        """Every orchestration that has runs."""
        self.refresh()
        with self._connect() as db:
            return {row[0] for row in db.execute("SELECT name FROM orchestrations")}

    def last_reconcile(self) -> tuple[str, str] | None:
        """When the last reconcile finished and the revision it attempted (None: never)."""
        self.refresh()
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'reconciled'").fetchone()
        if row is None:
            return None
        time, revision = json.loads(row[0])
        return str(time), str(revision or "")

    def unfinished(self, orchestration: str | None = None) -> list[RunSummary]:
        """Runs still waiting or processing, oldest request first."""
        self.refresh()
        query = f"SELECT {_SUMMARY} FROM runs"
        query += " WHERE status IN ('waiting', 'processing')"
        args: tuple[Any, ...] = ()
        if orchestration is not None:
            query += " AND orchestration = ?"
            args = (orchestration,)
        with self._connect() as db:
            return [_summary(row) for row in db.execute(query + " ORDER BY seq", args).fetchall()]

    def table_updates(self) -> dict[str, tuple[str, str | None]]:
        """Each table's last update: table -> (time, source)."""
        self.refresh()
        with self._connect() as db:
            return {name: (time, source) for name, time, source in db.execute("SELECT name, time, source FROM tables")}

    def table_update_seqs(self) -> dict[str, int]:
        """Each table's last update: table -> its record's seq."""
        self.refresh()
        with self._connect() as db:
            return dict(db.execute("SELECT name, seq FROM tables").fetchall())

    def last_trigger_decisions(self) -> dict[str, int]:
        """Per orchestration, the seq of its trigger's last decision (fired or suppressed)."""
        self.refresh()
        query = (
            "SELECT orchestration, max(seq) FROM decisions"
            " WHERE json_extract(record, '$.type') IN ('trigger.fired', 'trigger.suppressed') GROUP BY orchestration"
        )
        with self._connect() as db:
            return dict(db.execute(query).fetchall())

    def marks(self) -> dict[str, str]:
        """Schedules' decided-until instants and triggers' arming times, by key."""
        self.refresh()
        with self._connect() as db:
            return dict(db.execute("SELECT key, time FROM marks").fetchall())

    def applied_revisions(self) -> dict[str, str]:
        """Per orchestration, the revision the last reconcile applied (its last good definition)."""
        self.refresh()
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'applied'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    def reconciled_revision(self) -> str | None:
        """The revision the last reconcile looked at (None: no reconcile recorded, or it found no commit)."""
        last = self.last_reconcile()
        return last[1] if last is not None and last[1] else None

    def last_repair(self) -> tuple[int, str] | None:
        """The seq of the last `ledger repair` and its manifest (under the ledger folder), if there was one."""
        self.refresh()
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'repaired'").fetchone()
        if row is None:
            return None
        repaired = json.loads(row[0])
        return int(repaired["seq"]), str(repaired["manifest"])

    def conditions(self) -> dict[str, dict[str, str]]:
        """The orchestrations the last reconcile found not simply applied, with their reason and message."""
        self.refresh()
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'conditions'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    def last_run_starts(self) -> dict[str, str]:
        """Per orchestration, when its last run started (or was requested, if it has not started yet)."""
        self.refresh()
        with self._connect() as db:
            rows = db.execute(
                "SELECT orchestration, max(coalesce(started_at, requested_at)) FROM runs GROUP BY orchestration"
            ).fetchall()
        return {name: time for name, time in rows if time}

    # -- the index -----------------------------------------------------------------------------------

    @contextmanager
    def consistent(self) -> Iterator[None]:
        """Queries inside share one catch-up and one connection (a report asks a dozen questions)."""
        self.refresh()
        with self._connect() as db:
            self._held = db
            try:
                yield
            finally:
                self._held = None

    def refresh(self) -> None:
        """Fold ledger records appended since the index last looked into it. An index.sqlite that cannot
        be written here (disk full, read-only, no room for its journal) is left as it is: this process
        indexes the ledger in memory instead."""
        if self._held is not None:  # inside `consistent`: caught up already
            return
        if self._memory is None:
            try:
                mark = self._ledger.mark()
                if mark is None or mark != self._caught_up or not self._same_index():
                    self._refresh_file()
                    self._caught_up = mark
            except (sqlite3.DatabaseError, OSError) as exc:
                if isinstance(exc, sqlite3.DatabaseError) and not faults.sqlite_unwritable(exc):
                    raise
                self._memory = sqlite3.connect(":memory:", isolation_level=None)
                self._catch_up()
        else:
            self._catch_up()
        if self._damage and not self._told:
            self._told = True
            if self._on_damage is not None:
                self._on_damage(self.damage)

    def _refresh_file(self) -> None:
        try:
            self._catch_up()
        except sqlite3.DatabaseError as exc:
            if faults.sqlite_unwritable(exc):
                raise
            if faults.sqlite_busy(exc):  # another process holds it (a rebuild, say): not damage, keep it
                raise StorageError("cannot update", str(self._index), "busy: another process holds it") from None
            self._drop_connection()
            self._index.unlink(missing_ok=True)  # damaged: it is only derived, build it again
            self._catch_up()

    def invalidate(self) -> None:
        """Make the next refresh rebuild the index from the whole ledger (`ledger repair` moved lines)."""
        self._caught_up = None
        try:
            if self._memory is None:
                self._index.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.executescript(_SCHEMA)
                db.execute("DELETE FROM meta")
        except (sqlite3.DatabaseError, OSError) as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not faults.sqlite_unwritable(exc):
                raise
            self._memory = sqlite3.connect(":memory:", isolation_level=None)  # a fresh one: nothing covered yet
        self.refresh()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._held is not None:
            yield self._held
            return
        if self._memory is not None:
            yield self._memory
            return
        yield self._file_connection()

    def _file_connection(self) -> sqlite3.Connection:
        """This thread's connection to index.sqlite, opened again if the file was replaced (deleted and
        rebuilt by another process): a connection to an unlinked file would keep an index nobody sees."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None and not self._same_index():
            self._drop_connection()
            db = None
        if db is None:
            db = sqlite3.connect(self._index, timeout=30, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                # No fsync per catch-up: the index is derived, and WAL keeps it consistent without one.
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                identity = self._index.stat().st_ino
            except BaseException:
                db.close()
                raise
            self._local.db, self._local.identity = db, identity
            self._caught_up = None  # a new file, perhaps empty: catch it up before trusting it
        return db

    def _same_index(self) -> bool:
        """index.sqlite is still the file this thread's connection has open (True when none is open)."""
        if getattr(self._local, "db", None) is None:
            return True
        try:
            return bool(self._index.stat().st_ino == self._local.identity)
        except FileNotFoundError:
            return False

    def _drop_connection(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            db.close()

    def _catch_up(self) -> None:
        if self._memory is None:
            self._index.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            if self._memory is not None:
                db.executescript(_SCHEMA)  # a file connection ran it when it opened
            db.execute("BEGIN IMMEDIATE")  # one process catches up at a time; the others then see it done
            try:
                self._fold_into(db, self._covered(db))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # a failed COMMIT (disk full) has rolled back already
                    db.execute("ROLLBACK")
                raise

    def _covered(self, db: sqlite3.Connection) -> dict[str, str]:
        """The index's meta data, emptied (with everything else) if the index does not describe this ledger."""
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("version") != SCHEMA_VERSION or not self._still_valid(meta):
            for table in ("runs", "records", "tables", "marks", "decisions", "orchestrations"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta")
            db.execute("INSERT INTO meta VALUES ('version', ?)", (SCHEMA_VERSION,))
            return {"version": SCHEMA_VERSION}
        return meta

    def _still_valid(self, meta: dict[str, str]) -> bool:
        """The index describes this ledger: the line it ends at is still there, byte for byte."""
        if "segment" not in meta:
            return True
        try:
            lines = self._ledger.lines([(int(meta["segment"]), int(meta["start"]), int(meta["offset"]))])
        except OSError:
            return False
        return lines is not None and _digest(lines[0]) == meta.get("hash")

    def _fold_into(self, db: sqlite3.Connection, meta: dict[str, str]) -> None:
        position = Position(int(meta["segment"]), int(meta["offset"])) if "segment" in meta else Position()
        seq = int(meta["seq"]) if "seq" in meta else None
        damage = [Damage.from_json(d) for d in json.loads(meta.get("damage", "[]"))]
        known = len(damage)
        summaries: dict[str, list[Any]] = {}
        rows: list[tuple[str, int, int, int]] = []
        previous = position
        last: Position | None = None  # the start of the last line read, sound or damaged

        def damaged(found: Damage) -> None:
            nonlocal previous, last
            damage.append(found)
            last, previous = Position(found.segment, found.offset), Position(found.segment, found.offset + found.length)

        for after, record in self._ledger.read(position, after_seq=seq, on_damage=damaged):
            start = previous.offset if after.segment == previous.segment else 0
            previous, last, seq = after, Position(after.segment, start), record["seq"]
            run_id = record.get("run")
            kind = record.get("type")
            if kind == "table.updated":
                db.execute(
                    "INSERT OR REPLACE INTO tables VALUES (?, ?, ?, ?)",
                    (record["table"], record["time"], record["seq"], _source(record)),
                )
            elif kind in _SCHEDULE_MARKS:
                db.execute(
                    "INSERT INTO marks VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET time = max(time, excluded.time)",
                    (record["schedule"], record[_SCHEDULE_MARKS[kind]]),
                )
            elif kind == "reconcile.finished":
                db.executemany(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    [
                        ("applied", json.dumps(record.get("applied", {}))),
                        ("conditions", json.dumps(record.get("conditions", {}))),
                        ("reconciled", json.dumps([record["time"], record.get("revision")])),
                    ],
                )
            elif kind == "trigger.armed":
                db.execute("INSERT OR IGNORE INTO marks VALUES (?, ?)", (record["trigger"], record["since"]))
            elif kind == "ledger.repaired":
                repaired = {"seq": record["seq"], "manifest": record.get("manifest")}
                db.execute("INSERT OR REPLACE INTO meta VALUES ('repaired', ?)", (json.dumps(repaired),))
            if kind in DECISIONS and "orchestration" in record:
                db.execute(
                    "INSERT INTO decisions VALUES (?, ?, ?)",
                    (record["orchestration"], record["seq"], json.dumps(record, separators=(",", ":"))),
                )
            if not run_id or kind not in runstate.RUN_RECORDS:
                continue
            rows.append((run_id, after.segment, start, after.offset))
            _summarize(db, summaries, run_id, kind, record)
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [tuple(s) for s in summaries.values()]
        )
        if last is not None:
            [line] = self._ledger.lines([(last.segment, last.offset, previous.offset)]) or [b""]
            checkpoint = [
                ("segment", str(previous.segment)),
                ("offset", str(previous.offset)),
                ("start", str(last.offset)),
                ("hash", _digest(line)),
            ]
            if seq is not None:
                checkpoint.append(("seq", str(seq)))
            if len(damage) > known:
                checkpoint.append(("damage", json.dumps([d.to_json() for d in damage])))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", checkpoint)
        self._damage = damage


def _digest(line: bytes) -> str:
    return hashlib.blake2b(line, digest_size=16).hexdigest()


def _summarize(db: sqlite3.Connection, summaries: dict[str, list[Any]], run_id: str, kind: str, record: Record) -> None:
    if kind == "run.requested":
        db.execute("INSERT OR IGNORE INTO orchestrations VALUES (?)", (record["orchestration"],))
        summaries[run_id] = [
            run_id,
            record["orchestration"],
            record["seq"],
            "waiting",
            record.get("trigger"),
            record["time"],
            None,
            None,
            record.get("by"),
            record.get("retryOf"),
        ]
        return
    summary = summaries.get(run_id)
    if summary is None:
        row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return  # records of a run whose request is missing: nothing to summarize
        summary = summaries[run_id] = list(row)
    if kind == "run.started":
        summary[3], summary[6] = "processing", record["time"]
    elif kind == "run.finished":
        summary[3], summary[7] = record["status"], record["time"]


def _source(record: Record) -> str:
    """Who reported a table update, for people: the run and task, the command, or the API token."""
    if record.get("run"):
        return f"run {record['run']} task {record.get('task')}"
    return str(record.get("source") or "unknown")


def _summary(row: tuple[Any, ...]) -> RunSummary:
    return RunSummary(
        id=row[0],
        orchestration=row[1],
        seq=row[2],
        status=runstate.RunStatus(row[3]),
        trigger=row[4],
        requested_at=row[5],
        started_at=row[6],
        finished_at=row[7],
        by=row[8],
        retry_of=row[9],
    )
