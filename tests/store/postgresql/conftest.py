from __future__ import annotations

import pytest

from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.schema import migrate


@pytest.fixture
def database(postgres_url: str) -> Database:
    """A new database on the test server, migrated to this orchrecon's schema."""
    db = Database(postgres_url)
    with db.connect() as conn:
        migrate(conn)
    return db
