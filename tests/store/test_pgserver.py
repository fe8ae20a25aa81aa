from __future__ import annotations

import psycopg

from tests.pgserver import PostgresServer


def test_each_test_gets_its_own_empty_database(postgres_server: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT current_database(), current_user, count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert row is not None
    assert row[0].startswith("t_")
    assert row[1:] == ("orchrecon", 0)
    assert postgres_server.port > 0


def test_the_server_listens_on_loopback_only(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SHOW listen_addresses").fetchone()
    assert row == ("127.0.0.1",)
