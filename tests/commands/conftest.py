"""The commands' tests that need a real PostgreSQL server share the store tests' fixtures."""

from __future__ import annotations

from tests.store.conftest import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]
