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
from orchrecon.clock import parse_time
from orchrecon.commands import Subparsers
from orchrecon.documents.repository import validate_tree
from orchrecon.errors import NotFoundError
from orchrecon.execution.progress import seconds
from orchrecon.store.runstore import RunSummary


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("runs", parents=[common], help="list recent runs")
    p.add_argument("name", nargs="?", metavar="NAME", help="only this orchestration's runs")
    p.add_argument("--limit", type=int, default=20, metavar="N")
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


def duration_ms(started: str | None, finished: str | None) -> int | None:
    if not started or not finished:
        return None
    return round((parse_time(finished) - parse_time(started)).total_seconds() * 1000)


def _json(s: RunSummary) -> dict[str, object]:
    return {
        "id": s.id,
        "orchestration": s.orchestration,
        "status": s.status.value,
        "trigger": s.trigger,
        "requestedAt": s.requested_at,
        "startedAt": s.started_at,
        "finishedAt": s.finished_at,
        "durationMs": duration_ms(s.started_at, s.finished_at),
    }


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
    app = open_app(repo, state_dir, environ=environ, appends=False)
    runs = app.store.recent(name, max(limit, 0))
    if name and not runs and name not in validate_tree(app.repo).orchestrations:
        raise NotFoundError(f"no orchestration {name!r} and no runs of one")
    if fmt == "json":
        out.write(json.dumps({"runs": [_json(s) for s in runs]}, indent=2) + "\n")
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
