"""`orchrecon show RUN_ID`: a run's phases and tasks with status, times, exit codes, errors, logs and, for a
task run on a Dask cluster, the worker it ran on."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from orchrecon.app import open_app
from orchrecon.commands import Subparsers
from orchrecon.execution.progress import seconds
from orchrecon.reports.runjson import duration_ms, run_detail
from orchrecon.runs.cause import describe
from orchrecon.runs.state import RunView


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("show", parents=[common])
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo, state_dir=a.state_dir, run_id=a.run_id, fmt=a.format, out=sys.stdout, environ=os.environ
        )
    )


def run(*, repo: Path, state_dir: Path | None, run_id: str, fmt: str, out: TextIO, environ: Mapping[str, str]) -> int:
    app = open_app(repo, state_dir, environ=environ, read_only=True)
    view = app.run_view(run_id)
    request = app.store.request(view.id) or {}
    if fmt == "json":
        out.write(json.dumps(run_detail(view, request), indent=2) + "\n")
    else:
        out.write(render(view, request.get("cause")))
    return 0


def render(view: RunView, cause: Mapping[str, Any] | None = None) -> str:
    by = f" by {view.by}" if view.by else ""
    revision = f", revision {view.revision[:12]}{' (dirty)' if view.dirty else ''}" if view.revision else ""
    lines = [
        f"run {view.id}: {view.orchestration} {view.status.value}",
        f"  {view.trigger}{by}{revision}" + (f", retry of {view.retry_of}" if view.retry_of else ""),
        f"  requested {view.requested_at}, started {view.started_at or '-'}, finished {view.finished_at or '-'}"
        f" ({seconds(duration_ms(view.started_at, view.finished_at))})",
    ]
    started_by = describe(cause)
    if started_by:
        lines.insert(2, f"  started by {started_by}")
    if view.reason:
        lines.append(f"  reason: {view.reason}")
    for phase in view.phases:
        took = seconds(duration_ms(phase.started_at, phase.finished_at))
        lines.append(f"phase {phase.name}: {phase.status.value} ({took})")
        for t in phase.tasks:
            took = seconds(duration_ms(t.started_at, t.finished_at))
            parts = [f"  task {t.name}: {t.status.value}", t.config, took]
            if t.exit_code is not None:
                parts.append(f"exit {t.exit_code}")
            if t.worker:
                parts.append(f"on {t.worker}")
            lines.append("  ".join(parts))
            if t.error:
                lines.append(f"      error: {t.error}")
            if t.log:
                lines.append(f"      log: {t.log}" if Path(t.log).exists() else "      log: (no output)")
    return "\n".join(lines) + "\n"
