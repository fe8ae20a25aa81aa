"""Running a test on either state backend: the state directory, or a PostgreSQL state database (a new one per
test on the session's server) named by ORCHRECON_STATE_URL, as every orchrecon process the test starts sees it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchrecon.clock import SystemClock
from orchrecon.store import STATE_URL_VAR
from orchrecon.store.backends import close_opened, open_backend
from orchrecon.store.state import StateDir
from tests.pgserver import migrated

BACKENDS = ("state-dir", "postgresql")


def parametrize(metafunc: pytest.Metafunc, modules: frozenset[str]) -> None:
    """Run the tests of `modules` that use the `backend` fixture once per backend."""
    if "backend" in metafunc.fixturenames and metafunc.module.__name__.rsplit(".", 1)[-1] in modules:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """The state database's URL on the postgresql backend (migrated, and named in the environment), None on the
    state directory. Afterwards the connections of the apps the test opened in this process are closed."""
    if getattr(request, "param", "state-dir") != "postgresql":
        yield None
        return
    url = migrated(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv(STATE_URL_VAR, url)
    try:
        yield url
    finally:
        close_opened()


def state_environ() -> dict[str, str]:
    """What an in-process `open_app(environ=…)` needs to reach this test's backend."""
    url = os.environ.get(STATE_URL_VAR)
    return {STATE_URL_VAR: url} if url else {}


def ledger_records(state: Path) -> list[dict[str, Any]]:
    """Every record of the ledger of the state directory `state` (or of the test's state database)."""
    backend = open_backend(StateDir(state), SystemClock(), os.environ)
    try:
        return [record for _, record in backend.ledger.read(on_damage=lambda _: None)]
    finally:
        backend.close()
