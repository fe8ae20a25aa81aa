"""`orchrecon health`: exit 0 while the state directory's reconciler is alive (a container's HEALTHCHECK).

Alive means its heartbeat in `status/_reconciler.json` is fresh: the reconciler rewrites the file at
least every `heartbeatIntervalSeconds`, so a dead or stuck loop goes stale. It only reads: a health
check must never take the reconciler's lock (a reconciler starting at that moment would refuse) nor
record anything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from orchrecon.clock import Clock, SystemClock, parse_time
from orchrecon.commands import Subparsers
from orchrecon.documents.durations import parse_duration
from orchrecon.documents.layout import find_root
from orchrecon.errors import OrchreconError, UsageError
from orchrecon.store import state

MISSED_HEARTBEATS = 3  # stale after this many heartbeats did not come


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("health", parents=[common])
    p.add_argument(
        "--max-age", metavar="DURATION", help="the heartbeat is stale after this long (3 heartbeat intervals)"
    )
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            max_age=a.max_age,
            out=sys.stdout,
            environ=os.environ,
            clock=SystemClock(),
        )
    )


def run(
    *, repo: Path, state_dir: Path | None, max_age: str | None, out: TextIO, environ: Mapping[str, str], clock: Clock
) -> int:
    try:
        limit = parse_duration(max_age) if max_age is not None else None
    except ValueError as exc:
        raise UsageError(f"--max-age: {exc}") from None
    if limit is not None and limit < timedelta(seconds=1):
        raise UsageError(f"--max-age must be at least 1s, got {max_age!r}")
    path = (state.named(state_dir, environ) or state.default(find_root(repo))).status / "_reconciler.json"
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
        beat, every = parse_time(status["updatedAt"]), float(status["heartbeatIntervalSeconds"])
    except FileNotFoundError:
        raise OrchreconError(f"unhealthy: no reconciler has written {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OrchreconError(f"unhealthy: {path} is unreadable: {exc}") from None
    if status.get("stoppedAt"):
        raise OrchreconError(f"unhealthy: the reconciler stopped at {status['stoppedAt']} ({path})")
    age = clock.now() - beat
    if age > (limit or timedelta(seconds=every * MISSED_HEARTBEATS)):
        raise OrchreconError(f"unhealthy: the reconciler's last heartbeat was {age.total_seconds():.0f}s ago ({path})")
    source = status["conditions"][0] if status.get("conditions") else {}
    out.write(
        f"healthy: pid {status.get('pid')}, revision {(status.get('revision') or 'none')[:12]}, "
        f"source {source.get('reason', 'unknown')}, heartbeat {age.total_seconds():.0f}s ago\n"
    )
    return 0
