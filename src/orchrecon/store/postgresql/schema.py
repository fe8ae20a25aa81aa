"""The state database's schema, in the `orchrecon` schema, built by numbered migrations.

`migrate` applies the migrations a database lacks, each in order, all in one transaction and under a
transaction-level advisory lock, so two processes migrating at once do it once. `schema_version` holds the
number of migrations applied. A database migrated by a newer orchrecon is never touched: that is an error naming
both versions, as is, for `check`, a database not yet migrated to this orchrecon's version.

The ledger table holds each record's JSON exactly as the JSONL ledger writes its line, less the checksum:
PostgreSQL checksums its WAL and writes a row whole or not at all, so there is no torn or damaged line to detect,
and `ledger export` can add the checksum back, giving the same bytes. The column is `json`, not `jsonb`, because
`jsonb` would reorder the fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchrecon.store.postgresql.database import Connection, DatabaseError
from orchrecon.store.postgresql.locks import lock_keys

# Appends `bodies` (each record's JSON without `v`, `seq` and `time`) after the head, with the time `at` or the last
# record's if that is later (times never go back along seqs), if `fence` is null or the leadership epoch; returns
# the first seq and the time given. A stale `fence` raises 'orchrecon.fenced' with the epoch as its detail.
APPEND_FUNCTION = """
CREATE FUNCTION orchrecon.append(bodies text[], at text, fence bigint, v integer)
RETURNS TABLE (first bigint, stamp text) LANGUAGE plpgsql AS $$
DECLARE
    current bigint;
    last bigint;
    given text;
    n integer := cardinality(bodies);
BEGIN
    IF fence IS NOT NULL THEN
        SELECT epoch INTO current FROM orchrecon.leadership FOR SHARE;
        IF current <> fence THEN
            RAISE EXCEPTION 'orchrecon.fenced' USING DETAIL = current::text;
        END IF;
    END IF;
    UPDATE orchrecon.ledger_head SET seq = seq + n, time = greatest(time, at) RETURNING seq, time INTO last, given;
    INSERT INTO orchrecon.ledger (seq, record)
        SELECT last - n + i, ('{"v":' || v || ',"seq":' || (last - n + i) || ',"time":"' || given || '",'
            || substr(b, 2))::json
        FROM unnest(bodies) WITH ORDINALITY AS u(b, i);
    PERFORM pg_notify('orchrecon_ledger', last::text);
    RETURN QUERY SELECT last - n + 1, given;
END
$$
"""

MIGRATIONS: Sequence[Sequence[str]] = (
    (  # 1: the ledger, the last seq given out (its row lock orders the appends) and the leadership epoch
        "CREATE TABLE orchrecon.ledger (seq bigint PRIMARY KEY, record json NOT NULL)",
        "CREATE TABLE orchrecon.ledger_head"
        " (one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL CHECK (seq >= 0))",
        "INSERT INTO orchrecon.ledger_head (seq) VALUES (0)",
        "CREATE TABLE orchrecon.leadership (one boolean PRIMARY KEY DEFAULT true CHECK (one), epoch bigint NOT NULL)",
        "INSERT INTO orchrecon.leadership (epoch) VALUES (0)",
    ),
    (  # 2: the last record's time in the head row, and an append in one statement (one round trip, not four)
        "ALTER TABLE orchrecon.ledger_head ADD COLUMN time text NOT NULL DEFAULT ''",
        APPEND_FUNCTION,
    ),
)
VERSION = len(MIGRATIONS)
_MIGRATING = "schema.migrate"


class SchemaVersionError(DatabaseError):
    """The database's schema is not the one this orchrecon uses."""

    retryable = False  # waiting changes nothing: migrate, or upgrade orchrecon

    def __init__(self, message: str, *, database: int, code: int) -> None:
        self.database, self.code = database, code
        super().__init__(message)


def _newer(found: int) -> SchemaVersionError:
    return SchemaVersionError(
        f"the state database has schema version {found}, newer than this orchrecon's {VERSION}: "
        "upgrade orchrecon (a newer one migrated it)",
        database=found,
        code=VERSION,
    )


def version(conn: Connection) -> int:
    """The number of migrations applied to the database (0: never migrated)."""
    row = conn.execute("SELECT to_regclass('orchrecon.schema_version') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    found = conn.execute("SELECT version FROM orchrecon.schema_version").fetchone()
    return int(found[0]) if found else 0


def migrate(conn: Connection, *, upto: int = VERSION) -> int:
    """Apply the migrations up to `upto` the database lacks; returns its version before. Raises
    `SchemaVersionError` (changing nothing) when the database is newer than this orchrecon."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", lock_keys(_MIGRATING))
        conn.execute("CREATE SCHEMA IF NOT EXISTS orchrecon")
        conn.execute("CREATE TABLE IF NOT EXISTS orchrecon.schema_version (version integer NOT NULL)")
        before = version(conn)
        if before > VERSION:
            raise _newer(before)
        for statements in MIGRATIONS[before:upto]:
            for statement in statements:
                conn.execute(statement)
        if upto > before:
            conn.execute("DELETE FROM orchrecon.schema_version")
            conn.execute("INSERT INTO orchrecon.schema_version (version) VALUES (%s)", (upto,))
    return before


def check(conn: Connection) -> None:
    """Raise `SchemaVersionError` unless the database has exactly this orchrecon's schema version."""
    found = version(conn)
    if found > VERSION:
        raise _newer(found)
    if found < VERSION:
        raise SchemaVersionError(
            f"the state database has schema version {found}, older than this orchrecon's {VERSION}: "
            "run 'orchrecon db migrate'",
            database=found,
            code=VERSION,
        )
