"""`orchrecon db migrate|check`: the PostgreSQL state database's schema, applied and checked.

The database is named by `--state postgresql://…` or ORCHRECON_STATE_URL. Prefer the variable (or libpq's
PGPASSWORD and `.pgpass`): a password on the command line is visible in the host's process list, so `--state`
with one gets a warning. The password is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

from orchrecon.commands import Subparsers
from orchrecon.errors import OrchreconError, UsageError
from orchrecon.store import STATE_URL_VAR
from orchrecon.store.backends import NEEDS_PSYCOPG, PASSWORD_SHOWN, SCHEMES

if TYPE_CHECKING:
    from orchrecon.store.postgresql.database import Database


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("db", parents=[common])
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_ in (
        ("migrate", "apply the migrations the database lacks"),
        ("check", "exit 0 when the database has this orchrecon's schema"),
    ):
        action = actions.add_parser(name, help=help_)
        action.add_argument("--state", metavar="URL", help=f"the state database (default: ${STATE_URL_VAR})")
        action.set_defaults(handler=lambda a: run(action=a.action, state=a.state, out=sys.stdout, environ=os.environ))


def run(*, action: str, state: str | None, out: TextIO, environ: Mapping[str, str]) -> int:
    database = state_database(state, environ)
    from orchrecon.store.postgresql import schema  # noqa: PLC0415 - psycopg only where a database is used

    with database.connect() as conn:
        try:
            if action == "migrate":
                before = schema.migrate(conn)
                if before == schema.VERSION:
                    out.write(f"{database.shown} is at schema version {before}: nothing to migrate\n")
                else:
                    out.write(f"migrated {database.shown} from schema version {before} to {schema.VERSION}\n")
                return 0
            schema.check(conn)
        except OrchreconError:
            raise
        except Exception as exc:  # psycopg's: a refused statement, a connection that went away
            raise database.error("cannot migrate" if action == "migrate" else "cannot check", exc) from None
    out.write(f"{database.shown} is at schema version {schema.VERSION}, this orchrecon's\n")
    return 0


def state_database(option: str | None, environ: Mapping[str, str]) -> Database:
    """The state database `--state` (else ORCHRECON_STATE_URL) names; a usage error without one."""
    url = option if option is not None else environ.get(STATE_URL_VAR, "")
    if not url:
        raise UsageError(f"name the state database: --state postgresql://USER@HOST/DB or {STATE_URL_VAR}")
    if not url.startswith(SCHEMES):
        raise UsageError("--state must be a postgresql:// URL (the state directory is --state-dir)")
    try:
        from orchrecon.store.postgresql.database import Database  # noqa: PLC0415
    except ImportError:
        raise OrchreconError(NEEDS_PSYCOPG) from None
    database = Database(url)
    if option is not None and database.has_password:
        print(PASSWORD_SHOWN, file=sys.stderr)
    return database
