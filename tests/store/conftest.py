"""The PostgreSQL backend's fixtures: one real server for the session, a new database for each test. Without
PostgreSQL's server binaries the tests that use them are skipped, saying so (see `pgserver.unavailable`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgserver import NOT_FOUND, PostgresServer, start_server, stop_server, unavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    if server is None:
        unavailable(NOT_FOUND)
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the session's server (dropped afterwards)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
