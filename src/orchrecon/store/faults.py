"""Telling SQLite's "this file cannot be written here" from "this file is damaged"."""

from __future__ import annotations

import sqlite3

# SQLite's primary result codes that mean "this file cannot be written here", not "this file is damaged".
_SQLITE_UNWRITABLE = {
    3: "access permission denied",  # SQLITE_PERM
    8: "read-only database",  # SQLITE_READONLY
    10: "disk I/O error",  # SQLITE_IOERR
    13: "database or disk is full",  # SQLITE_FULL
    14: "cannot open the database file",  # SQLITE_CANTOPEN
    23: "not authorized",  # SQLITE_AUTH
}


def sqlite_busy(exc: sqlite3.Error) -> bool:
    """`exc` means another connection held the database longer than the timeout: nothing is wrong with it."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


def sqlite_unwritable(exc: sqlite3.Error) -> str | None:
    """The cause when `exc` means the database cannot be written or opened here; None for damage and bugs."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _SQLITE_UNWRITABLE:
        return _SQLITE_UNWRITABLE[code & 0xFF]
    return None
