"""`orchrecon tokens rotate ORCHESTRATION`: replace an orchestration's token."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from orchrecon.app import open_app
from orchrecon.commands import Subparsers
from orchrecon.commands import _definitions as definitions
from orchrecon.errors import NotFoundError


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("tokens", parents=[common], help="manage tokens")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = actions.add_parser("rotate", parents=[common], help="replace an orchestration's token")
    rotate.add_argument("orchestration", metavar="ORCHESTRATION")
    rotate.set_defaults(
        handler=lambda a: run_rotate(
            repo=a.repo, state_dir=a.state_dir, name=a.orchestration, out=sys.stdout, environ=os.environ
        )
    )


def run_rotate(*, repo: Path, state_dir: Path | None, name: str, out: TextIO, environ: Mapping[str, str]) -> int:
    app = open_app(repo, state_dir, environ=environ)
    if name not in app.tokens.all() and name not in definitions.known_orchestrations(app):
        raise NotFoundError(f"no orchestration {name!r}")
    app.tokens.rotate(name)
    out.write(f"rotated the token of {name}; runs that start from now on use the new one\n")
    return 0
