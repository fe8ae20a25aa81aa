"""Which backend holds the ledger and the locks: chosen here, in one place, for every command.

ORCHRECON_STATE_URL (the global `--state` sets it) naming a `postgresql://` database selects the PostgreSQL state
database; without it, the state directory's own ledger and locks. Either way the state directory keeps what is
local to a machine: status files, reports, task logs, secrets and the index of runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orchrecon.clock import Clock
from orchrecon.errors import OrchreconError, UsageError
from orchrecon.store import STATE_URL_VAR
from orchrecon.store.ledger import Ledger
from orchrecon.store.locks import FileLocks
from orchrecon.store.ports import LedgerPort, LockSpace
from orchrecon.store.state import StateDir

SCHEMES = ("postgresql://", "postgres://")
NEEDS_PSYCOPG = "the PostgreSQL backend needs psycopg: pip install 'orchrecon[postgresql]'"
PASSWORD_SHOWN = (  # for a URL given with --state
    "orchrecon: warning: the password in --state is visible in this host's process list;"
    f" set {STATE_URL_VAR} or PGPASSWORD instead"
)


@dataclass(frozen=True)
class Backend:
    ledger: LedgerPort
    locks: LockSpace
    index: Path  # the local index of runs folded from `ledger`

    def close(self) -> None:
        """Close the ledger and the locks' connections (which frees the locks)."""
        self.ledger.close()
        self.locks.close()


_opened: list[Backend] = []  # the database backends this process opened, for `close_opened`


def close_opened() -> None:
    """Close the connections of every state database this process opened (which frees its locks): `main` calls
    it when a command ends, so a command run inside another process (the tests) leaves none open."""
    while _opened:
        _opened.pop().close()


def state_url(environ: Mapping[str, str]) -> str | None:
    """The state database ORCHRECON_STATE_URL names; None: the state directory holds the ledger."""
    url = environ.get(STATE_URL_VAR) or None
    if url is not None and not url.startswith(SCHEMES):
        raise UsageError(f"{STATE_URL_VAR} must be a postgresql:// URL (the state directory is --state-dir)")
    return url


def open_backend(directory: StateDir, clock: Clock, environ: Mapping[str, str]) -> Backend:
    url = state_url(environ)
    if url is None:
        return Backend(Ledger(directory.ledger, clock), FileLocks(directory.locks), directory.index)
    try:
        from orchrecon.store.postgresql.backend import open_database  # noqa: PLC0415 - psycopg only where used
    except ImportError:
        raise OrchreconError(NEEDS_PSYCOPG) from None
    ledger, locks = open_database(url, clock, directory.locks)
    # Its own file: an index folded from the table must never be taken for one of the JSONL ledger's.
    backend = Backend(ledger, locks, directory.root / "index.database.sqlite")
    _opened.append(backend)
    return backend
