"""A process's advisory locks on a test database, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.locks import AdvisoryLocks


@contextmanager
def locks_on(database: Database) -> Iterator[AdvisoryLocks]:
    locks = AdvisoryLocks(database)
    try:
        yield locks
    finally:
        locks.close()
