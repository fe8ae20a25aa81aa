"""Moving a ledger between the backends without losing or changing a record: `ledger import|export`.

Import loads a state directory's ledger into an empty (migrated) database in one transaction: every record
keeps its `seq` and `time`, and the row holds the line's JSON less its checksum. Export writes the table back as
JSONL segments, each line with its checksum again: a ledger imported and exported again is the same bytes
(lines written before checksums existed gain one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import psycopg

from orchrecon.clock import SystemClock
from orchrecon.errors import OrchreconError, writing
from orchrecon.store.ledger import SEGMENT_LIMIT, Ledger, fsync_folder
from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.schema import check
from orchrecon.store.records import Damage, Record, encode, segment_name

BATCH = 5000
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # as the table's rows are written
_INSERT = "INSERT INTO orchrecon.ledger (seq, record) SELECT * FROM unnest(%s::bigint[], %s::text[]::json[])"


def import_ledger(database: Database, directory: Path) -> int:
    """Load the ledger in `directory` (a state directory's `ledger/`) into the database; returns how many records.
    Refuses a ledger with damaged lines (repair it first) and a database that holds any record."""
    if not directory.is_dir():
        raise OrchreconError(f"no ledger in {directory}")
    damaged: list[Damage] = []
    ledger = Ledger(directory, SystemClock())
    try:
        with database.connect() as conn:
            check(conn)
            try:
                with conn.transaction():
                    row = conn.execute("SELECT seq FROM orchrecon.ledger_head FOR UPDATE").fetchone()
                    assert row is not None
                    if row[0] != 0 or conn.execute("SELECT 1 FROM orchrecon.ledger LIMIT 1").fetchone():
                        raise OrchreconError(
                            f"{database.shown} already holds a ledger (last seq {row[0]}):"
                            " import only into an empty one"
                        )
                    count, last = 0, 0
                    for batch in _batches(r for _, r in ledger.read(on_damage=damaged.append)):
                        if damaged:
                            break
                        conn.execute(_INSERT, ([r["seq"] for r in batch], [_ENCODER.encode(r) for r in batch]))
                        count, last = count + len(batch), batch[-1]["seq"]
                    if damaged:
                        raise OrchreconError(
                            f"the ledger has damaged lines (the first at {damaged[0].where(directory)}):"
                            " 'orchrecon ledger verify' lists them, 'repair' sets them aside; nothing was imported"
                        )
                    conn.execute("UPDATE orchrecon.ledger_head SET seq = %s", (last,))
            except psycopg.Error as exc:
                raise database.error("cannot import the ledger into", exc) from None
    finally:
        ledger.close()
    return count


def export_ledger(database: Database, directory: Path, *, segment_limit: int = SEGMENT_LIMIT) -> int:
    """Write the database's ledger as JSONL segments into `directory`, which must hold no ledger yet; returns how
    many records. Segments are written under temporary names and renamed once whole and synced. A folder that
    cannot be written (full, read-only, not a folder) is a `StorageError` naming it."""
    with writing("cannot export the ledger into", directory):
        return _export(database, directory, segment_limit)


def _export(database: Database, directory: Path, segment_limit: int) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.glob("*.jsonl")):
        raise OrchreconError(f"{directory} already holds a ledger: export only into a state directory without one")
    count, number, size = 0, 1, 0
    written: list[tuple[Path, Path]] = []
    out = _open_segment(directory, number, written)
    try:
        with database.connect() as conn:
            check(conn)
            try:
                with conn.transaction(), conn.cursor(name="orchrecon_export") as cursor:
                    cursor.execute("SELECT record::text FROM orchrecon.ledger ORDER BY seq")
                    for (text,) in cursor:
                        line = encode(json.loads(text))
                        if size and size + len(line) > segment_limit:
                            _finish(out)
                            number += 1
                            out, size = _open_segment(directory, number, written), 0
                        out.write(line)
                        size += len(line)
                        count += 1
            except psycopg.Error as exc:
                raise database.error("cannot export the ledger from", exc) from None
        _finish(out)
    except BaseException:
        out.close()
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, final in written:
        temporary.rename(final)
    fsync_folder(directory)
    return count


def _batches(records: Iterator[Record]) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _open_segment(directory: Path, number: int, written: list[tuple[Path, Path]]) -> BinaryIO:
    final = directory / segment_name(number)
    temporary = directory / f".{final.name}.{os.getpid()}.tmp"
    written.append((temporary, final))
    return temporary.open("wb")


def _finish(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())
    out.close()
