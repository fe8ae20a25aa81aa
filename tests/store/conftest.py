"""The PostgreSQL backend's fixtures: one real server for the session, a new database for each test.

Without PostgreSQL's server binaries the tests that use them are skipped, saying so; with
`ORCHRECON_TEST_POSTGRES=required` (CI, which installs them) they fail instead, so a CI machine that lost
its server is noticed rather than silently skipping the backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pgserver import NOT_FOUND, PostgresServer, start_server, stop_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    if server is None:
        if os.environ.get("ORCHRECON_TEST_POSTGRES") == "required":
            pytest.fail(NOT_FOUND)
        pytest.skip(NOT_FOUND)
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
