from __future__ import annotations

import traceback
from urllib.parse import quote

import pytest

from orchrecon.clock import SystemClock
from orchrecon.store.postgresql.database import Database, DatabaseError
from orchrecon.store.postgresql.ledger import TableLedger
from orchrecon.store.postgresql.locks import AdvisoryLocks
from tests.pgserver import PostgresServer

SECRET = "s3cret:pw@/?#é"


def _failure(database: Database) -> str:
    """Everything a user or a crash log could see of the failure to connect."""
    with pytest.raises(DatabaseError) as caught:
        database.connect()
    return "".join(traceback.format_exception(caught.value)) + repr(caught.value)


def _assert_hidden(text: str) -> None:
    assert SECRET not in text
    assert quote(SECRET, safe="") not in text
    assert "s3cret" not in text


def test_a_refused_connection_names_the_database_without_its_password(postgres_server: PostgresServer) -> None:
    database = Database(f"postgresql://orchrecon:{quote(SECRET, safe='')}@127.0.0.1:1/state")
    assert repr(database) == "Database('postgresql://orchrecon@127.0.0.1:1/state')"
    text = _failure(database)
    _assert_hidden(text)
    assert "DatabaseError: cannot connect to postgresql://orchrecon@127.0.0.1:1/state: connection failed:" in text
    assert "accepting TCP/IP connections?\n" in text  # one line: libpq's second line joined to it


@pytest.mark.parametrize(
    "url",
    [
        f"host=127.0.0.1 port=1 user=orchrecon password='{SECRET}' dbname=state",
        f"postgresql://orchrecon@127.0.0.1:1/state?password={quote(SECRET, safe='')}",
    ],
)
def test_a_password_in_any_form_of_the_string_is_hidden(url: str) -> None:
    database = Database(url)
    assert database.shown == "postgresql://orchrecon@127.0.0.1:1/state"
    _assert_hidden(_failure(database))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://orchrecon:s3cret@[::1/state", 'matching "…" in IPv6 host address in URI: "…"'),
        ("host=127.0.0.1 password=s3cret bogus=1", 'invalid connection option "…"'),
    ],
)
def test_a_string_that_cannot_be_parsed_is_not_shown_at_all(url: str, reason: str) -> None:
    database = Database(url)
    text = _failure(database)
    _assert_hidden(text + repr(database))
    assert "cannot connect to the PostgreSQL database (connection string not shown: it cannot be parsed: " in text
    assert reason in text


def test_the_servers_messages_are_masked_too(postgres_server: PostgresServer) -> None:
    name = "nosuchdb_s3cret"  # a server message that echoes the password: it names the database
    database = Database(f"postgresql://orchrecon:{name}@127.0.0.1:{postgres_server.port}/{name}")
    text = _failure(database)
    _assert_hidden(text)
    assert 'database "***" does not exist' in text


def test_the_ledger_and_locks_never_show_the_password(postgres_server: PostgresServer, postgres_url: str) -> None:
    database = Database(postgres_url.replace("orchrecon@", f"orchrecon:{quote(SECRET, safe='')}@"))
    ledger, locks = TableLedger(database, SystemClock()), AdvisoryLocks(database)
    with pytest.raises(DatabaseError) as caught:
        list(ledger.read())  # not migrated: the server refuses
    assert 'relation "orchrecon.ledger" does not exist' in str(caught.value)
    assert locks.try_acquire("config.ex.a")  # trust authentication: the password is accepted and ignored
    _assert_hidden(repr(ledger) + repr(locks) + "".join(traceback.format_exception(caught.value)))
    ledger.close()
    locks.close()
