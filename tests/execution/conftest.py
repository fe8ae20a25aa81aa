from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import backends
from tests.backends import backend
from tests.execution import builders
from tests.store.conftest import postgres_server, postgres_url

__all__ = ["backend", "postgres_server", "postgres_url"]

# The behaviour that must hold on either backend: these modules' tests run on both.
BOTH_BACKENDS = frozenset(
    {"test_crash", "test_phases", "test_retry", "test_selection", "test_serialization", "test_stopping"}
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    backends.parametrize(metafunc, BOTH_BACKENDS)


@pytest.fixture
def ws(tmp_path: Path, backend: str | None) -> Iterator[builders.Workspace]:
    """A repository with the probe job, a state directory under tmp_path (and on the postgresql backend, a
    state database holding the ledger and locks), and cleanup of what tests start."""
    yield from builders.workspace(tmp_path, backend)
