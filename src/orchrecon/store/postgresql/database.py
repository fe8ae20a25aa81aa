"""Connecting to the state database: keepalives that notice a dead host, and a password never shown.

Every message and repr names the database as `postgresql://user@host:port/dbname`, built from the parsed
connection string without its password; a message from libpq or the server has the password (raw and
percent-encoded) masked too, in case it echoes part of the string.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from orchrecon.errors import OrchreconError
from orchrecon.store.ports import UnavailableError

Connection = psycopg.Connection[tuple[Any, ...]]

APPLICATION_NAME = "orchrecon"
# A dead host or a cut network is noticed within ~10 s (5 s idle + 2 probes 2 s apart, or 9 s of unacknowledged
# data), so a standby can take over the leadership lock in time; the caller's own settings win.
DEFAULTS = {
    "application_name": APPLICATION_NAME,
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "5",
    "keepalives_interval": "2",
    "keepalives_count": "2",
    "tcp_user_timeout": "9000",
}
_UNPARSABLE = "the PostgreSQL database (connection string not shown: it cannot be parsed"
_QUOTED = re.compile(r'"[^"]*"')
_ELIDED = '"…"'


class DatabaseError(UnavailableError):
    """The state database could not be reached, or refused a statement; the message names it without its
    password. A `StorageError`, as a full disk is for the state directory: a run whose records it refuses ends
    with it as the reason."""

    def __init__(self, message: str) -> None:
        OrchreconError.__init__(self, message)  # one line already: no action, path and cause to join
        self.action, self.path, self.cause = "", "", message
        self.reason = message


class Database:
    """Where the state database is: its connection string, kept private, and how it is shown."""

    def __init__(self, url: str) -> None:
        self._secrets: tuple[str, ...] = ()
        self._params: dict[str, Any] | None  # None: it cannot be parsed
        try:
            self._params = conninfo_to_dict(url)  # the string itself is not kept
        except psycopg.Error as exc:
            self._params = None
            # libpq quotes what it echoes of the string (all of it, for a bad URL): only its words are shown
            reason = _QUOTED.sub(_ELIDED, " ".join(str(exc).split()))
            self.shown = f"{_UNPARSABLE}: {reason})"
        else:
            password = str(self._params.get("password") or "")
            self._secrets = (password, quote(password, safe="")) if password else ()
            self.shown = self.masked(_shown(self._params))

    def __repr__(self) -> str:
        return f"Database({self.shown!r})"

    @property
    def has_password(self) -> bool:
        """Whether the connection string itself carries a password (not PGPASSWORD or .pgpass)."""
        return bool(self._secrets)

    def connect(self, *, autocommit: bool = True) -> Connection:
        """A new connection; raises `DatabaseError` saying why it cannot be made."""
        if self._params is None:
            raise DatabaseError(f"cannot connect to {self.shown}")  # it says why
        try:
            return psycopg.connect(**{**DEFAULTS, **self._params}, autocommit=autocommit)
        except psycopg.Error as exc:
            raise self.error("cannot connect to", exc) from None

    def error(self, action: str, exc: BaseException) -> DatabaseError:
        """`exc` as one line "`action` postgresql://user@host:port/db: reason", with no password in it."""
        return DatabaseError(f"{action} {self.shown}: {self.masked(' '.join(str(exc).split()))}")

    def masked(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _shown(params: dict[str, Any]) -> str:
    user = params.get("user") or ""
    host = params.get("host") or params.get("hostaddr") or ""
    port = params.get("port") or ""
    name = params.get("dbname") or ""
    return f"postgresql://{user}{'@' if user else ''}{host}{':' if port else ''}{port}/{name}"
