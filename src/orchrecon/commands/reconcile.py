"""`orchrecon reconcile`: the long-running reconciler over a local git checkout."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from orchrecon.app import open_app
from orchrecon.clock import format_time
from orchrecon.commands import Subparsers
from orchrecon.commands._runs import watch_children_with_pidfd
from orchrecon.durations import parse_duration
from orchrecon.errors import OrchreconError, UsageError
from orchrecon.reconciler import AlreadyRunningError, Reconciler

STANDBY_POLL_SECONDS = 0.5


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("reconcile", parents=[common], help="follow the repository and run what is due")
    p.add_argument("--interval", default="60s", metavar="DURATION", help="how often to look for a new commit (60s)")
    p.add_argument("--once", action="store_true", help="reconcile, start what is due, wait for it, exit")
    p.add_argument("--grace", default="30s", metavar="DURATION", help="on SIGTERM, how long runs may finish (30s)")
    p.add_argument("--standby", action="store_true", help="wait while another reconciler holds the state directory")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            interval=a.interval,
            once=a.once,
            grace=a.grace,
            standby=a.standby,
            log_format=a.log_format,
            out=sys.stdout,
            environ=os.environ,
        )
    )


def run(
    *,
    repo: Path,
    state_dir: Path | None,
    interval: str,
    once: bool,
    grace: str,
    standby: bool,
    log_format: str,
    out: TextIO,
    environ: Mapping[str, str],
) -> int:
    try:
        every, patience = parse_duration(interval), parse_duration(grace)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if every < timedelta(seconds=1):
        raise UsageError("--interval must be at least 1s")
    app = open_app(repo, state_dir, environ=environ)

    def log(event: str, fields: Mapping[str, object]) -> None:
        stamp = format_time(app.clock.now())
        if log_format == "json":
            out.write(json.dumps({"time": stamp, "event": event, **fields}) + "\n")
        else:
            out.write(f"{stamp}  {event}  " + " ".join(f"{k}={v}" for k, v in fields.items()) + "\n")
        out.flush()

    async def main() -> None:
        watch_children_with_pidfd()
        reconciler = Reconciler(app, interval=every, log=log)
        while True:
            try:
                reconciler.acquire()
                break
            except AlreadyRunningError as exc:
                if not standby:
                    raise OrchreconError(f"{exc}; exiting (use --standby to take over when it stops)") from None
                await asyncio.sleep(STANDBY_POLL_SECONDS)
        log("started", {"repository": str(app.repo), "state": str(app.state.root), "pid": os.getpid()})
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, reconciler.stop)
        try:
            await reconciler.serve(once=once, grace=patience.total_seconds())
        finally:
            reconciler.release()
        log("stopped", {})

    asyncio.run(main())
    app.ledger.close()
    return 0
