"""Who may do what through the API: token scopes, decided without I/O.

A token carries scopes (`SCOPES`) and, optionally, the orchestrations its `runs:*` scopes are limited to.
The API asks `allows(principal, action, orchestration)` once per request, and once per item to filter a
listing. An orchestration's own token (the one its tasks get as ORCHRECON_TOKEN) is
`orchestration_principal(name)`: it reports table updates and reads that orchestration's runs, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

SCOPES = ("runs:trigger", "runs:read", "tables:write", "admin")
LIMITABLE = ("runs:trigger", "runs:read")  # the scopes `orchestrations` limits

# The project's rule for names (orchestrations, and tokens too): as the schema's `name` pattern.
NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
NAME_HINT = "lowercase letters, digits and '-', 1 to 63 characters, starting and ending with a letter or digit"
ORCHESTRATION_PREFIX = "orchestration:"  # the principal name of an orchestration token


class Action(StrEnum):
    READ = "read"  # GET orchestrations and runs
    TRIGGER = "trigger"  # start, retry, cancel runs
    TABLES = "tables"  # POST /api/v1/tables/{table}/updated
    ADMIN = "admin"  # token administration over the API


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who a request comes from, as its bearer token says."""

    name: str  # the token's name; "orchestration:<name>" for an orchestration token
    scopes: frozenset[str]
    orchestrations: frozenset[str] | None  # None: every orchestration; limits runs:trigger and runs:read
    email: str | None = None
    orchestration_token: bool = False


def allows(principal: Principal, action: Action, orchestration: str | None = None) -> bool:
    """Whether `principal` may do `action` on `orchestration`.

    `orchestration` is None for an action on no single orchestration: a listing (READ: allowed to whoever
    may read some orchestration; the caller then filters the items with `allows(p, READ, name)`), a table
    update, token administration. TRIGGER always concerns an orchestration: with None it is allowed only
    to a token that may trigger every one."""
    scopes = principal.scopes
    if "admin" in scopes:
        return True
    match action:
        case Action.ADMIN:
            return False
        case Action.TABLES:
            return "tables:write" in scopes
        case Action.TRIGGER:
            return "runs:trigger" in scopes and _within(principal, orchestration, listing=False)
        case Action.READ:
            may_read = "runs:read" in scopes or "runs:trigger" in scopes
            return may_read and _within(principal, orchestration, listing=True)


def _within(principal: Principal, orchestration: str | None, *, listing: bool) -> bool:
    limit = principal.orchestrations
    if limit is None:
        return True
    if orchestration is None:
        return listing and bool(limit)
    return orchestration in limit


def orchestration_principal(name: str) -> Principal:
    """The principal of orchestration `name`'s own token: table updates, and reading its own runs."""
    return Principal(
        name=ORCHESTRATION_PREFIX + name,
        scopes=frozenset({"tables:write", "runs:read"}),
        orchestrations=frozenset({name}),
        orchestration_token=True,
    )


def grant_problem(scopes: Sequence[str], orchestrations: Sequence[str]) -> str | None:
    """What is wrong with a token asking for `scopes` limited to `orchestrations` (empty: unlimited), or
    None. Each scope must be one of SCOPES; a limit needs a scope it limits, and names orchestrations."""
    if not scopes:
        return f"a token needs at least one --scope ({', '.join(SCOPES)})"
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        return f"unknown scope {unknown[0]!r} (one of {', '.join(SCOPES)})"
    bad = [o for o in orchestrations if not NAME.fullmatch(o)]
    if bad:
        return f"--orchestration {bad[0]!r} is not an orchestration name ({NAME_HINT})"
    if orchestrations and "admin" in scopes:
        return "--orchestration cannot limit admin, which may do everything"
    if orchestrations and not any(s in LIMITABLE for s in scopes):
        return "--orchestration limits runs:trigger and runs:read only; this token has neither"
    return None
