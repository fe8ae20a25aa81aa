from __future__ import annotations

import pytest

from tests import backends
from tests.backends import backend
from tests.store.conftest import postgres_server, postgres_url

__all__ = ["backend", "postgres_server", "postgres_url"]

# The reconciler's behaviour (schedules, triggers, leadership, recovery) on either backend.
BOTH_BACKENDS = frozenset({"test_reconciler", "test_reconciler_clock"})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    backends.parametrize(metafunc, BOTH_BACKENDS)
