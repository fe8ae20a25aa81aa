"""Runs as recorded in the ledger, queried through an index that is derived from it.

The index (SQLite, `index.sqlite` in the state directory) holds each run's summary and where its
records are in the ledger. Every process catches it up from the last position it covers before
reading; a missing, damaged or foreign index is rebuilt from the ledger, which stays the only truth.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchrecon.runs import state as runstate
from orchrecon.runs.state import RunView
from orchrecon.store.ledger import Ledger, Position, Record, segment_name

SCHEMA_VERSION = "4"
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
    def __init__(self, ledger: Ledger, index: Path) -> None:
        self._ledger = ledger
        self._index = index
        self._held: sqlite3.Connection | None = None  # inside `consistent`

    # -- queries -------------------------------------------------------------------------------------

    def get(self, run_id: str) -> RunView | None:
        """The run folded from its own records, or None if there is no such run."""
        records = list(self.records(run_id))
        return runstate.fold(records).get(run_id) if records else None

    def request(self, run_id: str) -> Record | None:
        """The run's `run.requested` record (its full definition)."""
        return next((r for r in self.records(run_id) if r["type"] == "run.requested"), None)

    def records(self, run_id: str) -> Iterator[Record]:
        self.refresh()
        with self._connect() as db:
            rows = db.execute(
                "SELECT segment, start, end FROM records WHERE run = ? ORDER BY segment, start", (run_id,)
            ).fetchall()
        handles: dict[int, Any] = {}
        try:
            for segment, start, end in rows:
                if segment not in handles:
                    handles[segment] = (self._ledger.directory / segment_name(segment)).open("rb")
                f = handles[segment]
                f.seek(start)
                yield json.loads(f.read(end - start))
        finally:
            for f in handles.values():
                f.close()

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
        return str(time), str(revision)

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
        """Fold ledger records appended since the index last looked into it."""
        if self._held is not None:
            return
        try:
            self._catch_up()
        except sqlite3.DatabaseError:
            self._index.unlink(missing_ok=True)  # damaged: it is only derived, build it again
            self._catch_up()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._held is not None:
            yield self._held
            return
        with closing(sqlite3.connect(self._index, timeout=30, isolation_level=None)) as db:
            yield db

    def _catch_up(self) -> None:
        self._index.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")  # one process catches up at a time; the others then see it done
            try:
                position = self._covered(db)
                self._fold_into(db, position)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _covered(self, db: sqlite3.Connection) -> Position:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("version") != SCHEMA_VERSION or not self._still_valid(meta):
            for table in ("runs", "records", "tables", "marks", "decisions", "orchestrations"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta")
            db.execute("INSERT INTO meta VALUES ('version', ?)", (SCHEMA_VERSION,))
            return Position()
        if "segment" not in meta:
            return Position()
        return Position(int(meta["segment"]), int(meta["offset"]))

    def _still_valid(self, meta: dict[str, str]) -> bool:
        """The index describes this ledger: the record it ends at is still there, with the same seq."""
        if "segment" not in meta:
            return True
        segment, offset, seq = int(meta["segment"]), int(meta["offset"]), int(meta.get("seq", "0"))
        path = self._ledger.directory / segment_name(segment)
        if offset == 0:
            return True
        try:
            with path.open("rb") as f:
                f.seek(max(0, offset - 1))
                if f.read(1) != b"\n":
                    return False
        except OSError:
            return False
        last = next(iter(self._ledger.read(Position(segment, int(meta.get("start", "0"))))), None)
        return last is not None and int(last[1].get("seq", -1)) == seq

    def _fold_into(self, db: sqlite3.Connection, position: Position) -> None:
        summaries: dict[str, list[Any]] = {}
        rows: list[tuple[str, int, int, int]] = []
        previous = position
        last: tuple[Position, Position, int] | None = None
        for after, record in self._ledger.read(position):
            start = previous.offset if after.segment == previous.segment else 0
            previous = after
            last = (Position(after.segment, start), after, int(record.get("seq", 0)))
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
                        ("reconciled", json.dumps([record["time"], record.get("revision")])),
                    ],
                )
            elif kind == "trigger.armed":
                db.execute("INSERT OR IGNORE INTO marks VALUES (?, ?)", (record["trigger"], record["since"]))
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
            begin, end, seq = last
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [
                    ("segment", str(end.segment)),
                    ("offset", str(end.offset)),
                    ("start", str(begin.offset)),
                    ("seq", str(seq)),
                ],
            )


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
