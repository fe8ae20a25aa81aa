"""`orchrecon status [NAME]`: the reports' facts on the terminal, or a status file's content as JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from orchrecon.app import open_app
from orchrecon.commands import Subparsers
from orchrecon.errors import NotFoundError
from orchrecon.reconcile.publish import Publisher, desired_from_ledger
from orchrecon.reports.index import render_index
from orchrecon.reports.orchestration import render_report
from orchrecon.reports.terminal import to_terminal


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("status", parents=[common])
    p.add_argument("name", metavar="NAME", nargs="?", help="one orchestration in detail")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo, state_dir=a.state_dir, name=a.name, fmt=a.format, out=sys.stdout, environ=os.environ
        )
    )


def run(
    *, repo: Path, state_dir: Path | None, name: str | None, fmt: str, out: TextIO, environ: Mapping[str, str]
) -> int:
    app = open_app(repo, state_dir, environ=environ, read_only=True)
    desired = desired_from_ledger(app)
    statuses, facts = Publisher(app).compute(desired, () if name is None else (name,))
    if name is not None and name not in statuses:
        known = ", ".join(statuses) or "none"
        raise NotFoundError(f"no orchestration {name!r} in the ledger (known: {known})")
    if fmt == "json":
        data = list(statuses.values()) if name is None else statuses[name]
        out.write(json.dumps(data, indent=2) + "\n")
    elif name is None:
        out.write(to_terminal(render_index(list(statuses.values()))))
    else:
        out.write(to_terminal(render_report(facts[name])))
    return 0
