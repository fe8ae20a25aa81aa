"""`orchrecon cancel RUN_ID`: stop a run, wherever it runs; wait until it is recorded stopped."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from orchrecon.app import open_app
from orchrecon.commands import Subparsers
from orchrecon.documents.durations import parse_duration
from orchrecon.errors import UsageError
from orchrecon.execution.recovery import recover
from orchrecon.gitsource import user_email

POLL_SECONDS = 0.1


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("cancel", parents=[common])
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--wait", default="60s", metavar="DURATION", help="how long to wait for it to stop (60s)")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo, state_dir=a.state_dir, run_id=a.run_id, wait=a.wait, out=sys.stdout, environ=os.environ
        )
    )


def run(*, repo: Path, state_dir: Path | None, run_id: str, wait: str, out: TextIO, environ: Mapping[str, str]) -> int:
    try:
        patience = parse_duration(wait).total_seconds()
    except ValueError as exc:
        raise UsageError(f"--wait: {exc}") from None
    app = open_app(repo, state_dir, environ=environ)
    view = app.run_view(run_id)
    run_id = view.id  # the full id of a prefix
    if view.status.finished:
        out.write(f"run {run_id} already ended: {view.status.value}\n")
        return 1
    app.ledger.append_one("run.cancel-requested", run=run_id, by=user_email(app.repo))
    app.ledger.sync()
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        recover(app.store, app.ledger, app.locks)  # its process may have died meanwhile
        view = app.run_view(run_id)
        if view.status.finished:
            out.write(f"run {run_id} {view.status.value}\n")
            return 0
        time.sleep(POLL_SECONDS)
    out.write(f"run {run_id} is still {view.status.value} after {wait}; the request stays recorded\n")
    return 1
