from __future__ import annotations

import threading

import pytest

from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.schema import VERSION, SchemaVersionError, check, migrate, version


def test_migrate_builds_the_schema_once(postgres_url: str) -> None:
    with Database(postgres_url).connect() as conn:
        assert version(conn) == 0
        assert migrate(conn) == 0
        assert migrate(conn) == VERSION
        check(conn)
        assert conn.execute("SELECT seq FROM orchrecon.ledger_head").fetchall() == [(0,)]
        assert conn.execute("SELECT epoch FROM orchrecon.leadership").fetchall() == [(0,)]


def test_a_database_never_migrated_is_older_than_the_code(postgres_url: str) -> None:
    with Database(postgres_url).connect() as conn, pytest.raises(SchemaVersionError) as caught:
        check(conn)
    assert str(caught.value) == (
        f"the state database has schema version 0, older than this orchrecon's {VERSION}: run 'orchrecon db migrate'"
    )


def test_a_database_newer_than_the_code_is_refused_and_left_alone(database: Database) -> None:
    with database.connect() as conn:
        conn.execute("UPDATE orchrecon.schema_version SET version = %s", (VERSION + 1,))
        for call in (migrate, check):
            with pytest.raises(SchemaVersionError) as caught:
                call(conn)
            assert (caught.value.database, caught.value.code) == (VERSION + 1, VERSION)
            assert f"schema version {VERSION + 1}, newer than this orchrecon's {VERSION}" in str(caught.value)
        assert version(conn) == VERSION + 1


def test_processes_migrating_at_once_migrate_once(postgres_url: str) -> None:
    before: list[int] = []
    barrier = threading.Barrier(4)

    def migrating() -> None:
        with Database(postgres_url).connect() as conn:
            barrier.wait()
            before.append(migrate(conn))

    threads = [threading.Thread(target=migrating) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(before) == [0, VERSION, VERSION, VERSION]
