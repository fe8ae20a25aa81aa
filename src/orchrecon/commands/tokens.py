"""`orchrecon tokens create|list|revoke|rotate`: API tokens, and the orchestrations' own tokens."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from orchrecon.access import SCOPES, orchestration_principal
from orchrecon.app import App, open_app
from orchrecon.commands import Subparsers
from orchrecon.commands import _definitions as definitions
from orchrecon.errors import NotFoundError, OrchreconError
from orchrecon.store.apitokens import not_revocable

REACH_ORCHESTRATIONS = {"runs:trigger", "runs:read", "admin"}  # scopes whose reach `list` shows


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("tokens", parents=[common])
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", parents=[common], help="create an API token; prints its secret once")
    create.add_argument("name", metavar="NAME")
    create.add_argument(
        "--scope", dest="scopes", action="append", default=[], metavar="SCOPE", help=f"one of {', '.join(SCOPES)}"
    )
    create.add_argument(
        "--orchestration",
        dest="orchestrations",
        action="append",
        default=[],
        metavar="NAME",
        help="limit runs:trigger and runs:read to this orchestration (repeatable)",
    )
    create.add_argument("--email", metavar="EMAIL", help="the person the token acts for: runs it starts notify them")
    create.set_defaults(
        handler=lambda a: run_create(
            repo=a.repo,
            state_dir=a.state_dir,
            name=a.name,
            scopes=a.scopes,
            orchestrations=a.orchestrations,
            email=a.email,
            out=sys.stdout,
            err=sys.stderr,
            environ=os.environ,
        )
    )

    listing = actions.add_parser("list", parents=[common], help="every token, without its secret")
    listing.add_argument("--format", choices=["text", "json"], default="text")
    listing.set_defaults(
        handler=lambda a: run_list(repo=a.repo, state_dir=a.state_dir, fmt=a.format, out=sys.stdout, environ=os.environ)
    )

    revoke = actions.add_parser("revoke", parents=[common], help="remove an API token (401 from then on)")
    revoke.add_argument("name", metavar="NAME")
    revoke.set_defaults(
        handler=lambda a: run_revoke(
            repo=a.repo, state_dir=a.state_dir, name=a.name, out=sys.stdout, environ=os.environ
        )
    )

    rotate = actions.add_parser("rotate", parents=[common], help="replace an orchestration's token")
    rotate.add_argument("orchestration", metavar="ORCHESTRATION")
    rotate.set_defaults(
        handler=lambda a: run_rotate(
            repo=a.repo, state_dir=a.state_dir, name=a.orchestration, out=sys.stdout, environ=os.environ
        )
    )


def run_create(
    *,
    repo: Path,
    state_dir: Path | None,
    name: str,
    scopes: Sequence[str],
    orchestrations: Sequence[str],
    email: str | None,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str],
) -> int:
    """Print the new token's secret, alone on `out` (so that `TOKEN=$(orchrecon tokens create …)` works);
    everything else goes to `err`."""
    app = open_app(repo, state_dir, environ=environ)
    unknown = sorted(set(orchestrations) - _known(app))  # before: nothing may fail once the secret is out
    secret = app.api_tokens.create(name, scopes=scopes, orchestrations=orchestrations, email=email)
    out.write(secret + "\n")
    out.flush()
    if unknown:
        err.write(f"orchrecon: warning: no orchestration {', '.join(unknown)} is defined (yet)\n")
    err.write(f"created token {name}; its secret, printed above, is shown this once and stored nowhere\n")
    return 0


def _known(app: App) -> set[str]:
    """The orchestrations defined here, and those with a token; reading the documents is best effort."""
    try:
        defined = definitions.known_orchestrations(app)
    except OrchreconError:
        defined = set()
    return defined | set(app.tokens.names())


def run_list(*, repo: Path, state_dir: Path | None, fmt: str, out: TextIO, environ: Mapping[str, str]) -> int:
    app = open_app(repo, state_dir, environ=environ, read_only=True)
    rows = _rows(app)
    if fmt == "json":
        out.write(json.dumps({"tokens": rows}, indent=2) + "\n")
        return 0
    grid = [("NAME", "KIND", "SCOPES", "ORCHESTRATIONS", "EMAIL", "CREATED", "LAST USED")]
    grid += [
        (
            r["name"],
            r["kind"],
            ",".join(r["scopes"]),
            ",".join(r["orchestrations"]) or ("all" if set(r["scopes"]) & REACH_ORCHESTRATIONS else "-"),
            r["email"] or "-",
            r["created"] or "-",
            r["lastUsed"] or ("never" if r["kind"] == "api" else "-"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
    for row in grid:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0


def _rows(app: App) -> list[dict[str, Any]]:
    """API tokens, then orchestration tokens (their scopes are fixed; only their names are read)."""
    rows: list[dict[str, Any]] = [
        {
            "name": t.name,
            "kind": "api",
            "scopes": list(t.scopes),
            "orchestrations": list(t.orchestrations),
            "email": t.email,
            "created": t.created,
            "lastUsed": t.last_used,
        }
        for t in app.api_tokens.list()
    ]
    for name in app.tokens.names():
        principal = orchestration_principal(name)
        rows.append(
            {
                "name": name,
                "kind": "orchestration",
                "scopes": [s for s in SCOPES if s in principal.scopes],
                "orchestrations": [name],
                "email": None,
                "created": None,
                "lastUsed": None,
            }
        )
    return rows


def run_revoke(*, repo: Path, state_dir: Path | None, name: str, out: TextIO, environ: Mapping[str, str]) -> int:
    app = open_app(repo, state_dir, environ=environ)
    if name not in {t.name for t in app.api_tokens.list()} and name in _known(app):
        raise not_revocable(name)
    app.api_tokens.revoke(name)
    out.write(f"revoked token {name}; requests with it are refused from now on\n")
    return 0


def run_rotate(*, repo: Path, state_dir: Path | None, name: str, out: TextIO, environ: Mapping[str, str]) -> int:
    app = open_app(repo, state_dir, environ=environ)
    if name not in app.tokens.all() and name not in definitions.known_orchestrations(app):
        raise NotFoundError(f"no orchestration {name!r}")
    app.tokens.rotate(name)
    out.write(f"rotated the token of {name}; runs that start from now on use the new one\n")
    return 0
