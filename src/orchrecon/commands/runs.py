"""`orchrecon runs [NAME]`: the latest runs, newest first."""

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
from orchrecon.errors import NotFoundError, UsageError
from orchrecon.execution.progress import seconds
from orchrecon.reports.runjson import duration_ms, summary_json

MAX_LIMIT = 1_000_000


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("runs", parents=[common])
    p.add_argument("name", nargs="?", metavar="NAME", help="only this orchestration's runs")
    p.add_argument("--limit", type=int, default=20, metavar="N", help=f"at most N runs, 1 to {MAX_LIMIT} (default 20)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            name=a.name,
            limit=a.limit,
            fmt=a.format,
            out=sys.stdout,
            environ=os.environ,
        )
    )


def run(
    *,
    repo: Path,
    state_dir: Path | None,
    name: str | None,
    limit: int,
    fmt: str,
    out: TextIO,
    environ: Mapping[str, str],
) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if name == "":
        raise UsageError("NAME is empty; leave it out to list the runs of every orchestration")
    app = open_app(repo, state_dir, environ=environ, read_only=True)
    runs = app.store.recent(name, limit)
    if name and not runs:
        from orchrecon.commands import _definitions as definitions  # noqa: PLC0415 - it reads the documents

        if name not in definitions.known_orchestrations(app):
            raise NotFoundError(f"no orchestration {name!r} and no runs of one")
    if fmt == "json":
        out.write(json.dumps({"runs": [summary_json(s) for s in runs]}, indent=2) + "\n")
        return 0
    rows = [("RUN", "ORCHESTRATION", "STATUS", "TRIGGER", "REQUESTED", "DURATION")]
    rows += [
        (
            s.id,
            s.orchestration,
            s.status.value,
            s.trigger or "-",
            s.requested_at or "-",
            seconds(duration_ms(s.started_at, s.finished_at)),
        )
        for s in runs
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return 0
