"""The reconciler's loop on an injected clock: a schedule fires when the clock says so, and after a
downtime the missed slots are recorded and the latest is caught up. Real git, real task processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orchrecon.app import App, open_app
from orchrecon.gitsource.remote import RemoteSource
from orchrecon.reconcile.reconciler import Reconciler
from tests.backends import state_environ
from tests.builders import clone_with_remote, git, write
from tests.clocks import FakeClock
from tests.statuses import read_status

NIGHTLY = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: nightly}
spec:
  phases:
    - name: main
      tasks: [{name: where, config: ex/where}]
  schedules: [{cron: "0 2 * * *", timezone: Europe/Prague, catchUp: latest}]
"""

WHERE = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {component: ex, name: where}
spec:
  run: {command: [python, jobs/where.py]}
"""

START = datetime(2026, 3, 2, 0, 50, tzinfo=UTC)  # 01:50 in Prague, ten minutes before the slot


def _remote(tmp_path: Path) -> tuple[str, str]:
    clone = clone_with_remote(tmp_path)
    write(clone, "orchestrations/nightly.yaml", NIGHTLY)
    write(clone, "configurations/ex/where.yaml", WHERE)
    write(clone, "jobs/where.py", "import os\nprint(os.getcwd())\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "a nightly orchestration whose job prints where it runs")
    git(clone, "push", "-q", "origin", "main")
    return str(tmp_path / "remote.git"), git(clone, "rev-parse", "HEAD").strip()


def _reconciler(url: str, state: Path, clock: FakeClock) -> tuple[App, Reconciler]:
    app = open_app(None, state, environ=state_environ(), clock=clock)
    source = RemoteSource(url, "main", app.state.source, {})

    def log(event: str, fields: Mapping[str, object]) -> None:
        pass

    reconciler = Reconciler(app, source, interval=timedelta(hours=1), log=log)
    reconciler.acquire()
    return app, reconciler


def _records(app: App, kind: str) -> list[dict[str, Any]]:
    return [r for _, r in app.ledger.read() if r["type"] == kind]


async def _until(predicate: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + 15
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_a_schedule_fires_on_the_injected_clock_in_the_files_of_its_revision(
    backend: str | None, tmp_path: Path
) -> None:
    url, revision = _remote(tmp_path)
    clock = FakeClock(START)
    app, reconciler = _reconciler(url, tmp_path / "state", clock)

    async def scenario() -> None:
        loop = asyncio.create_task(reconciler.serve())
        await _until(lambda: bool(_records(app, "schedule.armed")), "the schedule to be armed")
        await asyncio.sleep(0.3)  # the loop sleeps in real time, yet nothing is due on the clock
        assert _records(app, "schedule.fired") == []
        clock.advance(timedelta(minutes=10, seconds=2))
        await _until(lambda: bool(_records(app, "run.finished")), "the run to finish")
        reconciler.stop()
        await loop

    asyncio.run(scenario())
    reconciler.release()
    fired = _records(app, "schedule.fired")
    assert [(r["slot"], r["time"]) for r in fired] == [("2026-03-02T01:00:00Z", "2026-03-02T01:00:02.000Z")]
    (run,) = _records(app, "run.finished")
    assert run["status"] == "success"
    log = (tmp_path / "state" / "logs" / run["run"] / "where.log").read_text()
    assert log.strip() == str(tmp_path / "state" / "source" / "trees" / revision)
    status = read_status(tmp_path / "state", "nightly")
    assert status["schedules"][0]["next"][0] == {"utc": "2026-03-03T01:00:00Z", "local": "2026-03-03T02:00:00+01:00"}


def test_after_a_downtime_missed_slots_are_recorded_and_the_latest_is_caught_up(
    backend: str | None, tmp_path: Path
) -> None:
    url, _ = _remote(tmp_path)
    clock = FakeClock(START)
    app, reconciler = _reconciler(url, tmp_path / "state", clock)
    asyncio.run(reconciler.serve(once=True))  # arms the schedule at 00:50 UTC
    reconciler.release()
    clock.advance(timedelta(days=3, hours=2))  # down from 01:50 on the 2nd to 03:50 on the 5th in Prague
    app, reconciler = _reconciler(url, tmp_path / "state", clock)
    asyncio.run(reconciler.serve(once=True))  # waits for the catch-up run
    reconciler.release()
    missed = [(r["slot"], r["caughtUp"]) for r in _records(app, "schedule.missed")]
    assert missed == [
        ("2026-03-02T01:00:00Z", False),
        ("2026-03-03T01:00:00Z", False),
        ("2026-03-04T01:00:00Z", False),
        ("2026-03-05T01:00:00Z", True),
    ]
    assert [r["trigger"] for r in _records(app, "run.requested")] == ["schedule"]
    assert [r["status"] for r in _records(app, "run.finished")] == ["success"]


PAIR = """\
import json, os, pathlib, sys, time
me = os.environ["ORCHRECON_TASK"]
other = pathlib.Path("b.running" if me == "a" else "a.running")
pathlib.Path(f"{me}.running").touch()
deadline = time.monotonic() + 10
while json.loads(os.environ["ORCHRECON_PARAMETERS"])["wait"] and not other.exists():
    if time.monotonic() > deadline:
        sys.exit("never ran beside the other task")
    time.sleep(0.01)
print("together" if other.exists() else "alone")
time.sleep(0.2)
pathlib.Path(f"{me}.running").unlink()
"""

PAIRED = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: paired}
spec:
  phases:
    - name: main
      tasks: [{name: a, config: ex/pair-a}, {name: b, config: ex/pair-b}]
  schedules: [{cron: "0 2 * * *", timezone: Europe/Prague}]
"""

PAIR_CONFIG = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {{component: ex, name: pair-{name}}}
spec:
  run: {{command: [python, jobs/pair.py]}}
  parameters: {{wait: {wait}}}
"""


def _push_pair(clone: Path, limit: int, *, wait: bool) -> None:
    write(clone, "orchrecon.yaml", f"apiVersion: orchrecon/v1\nkind: Project\nspec: {{maxParallelJobs: {limit}}}\n")
    write(clone, "orchestrations/paired.yaml", PAIRED)
    write(clone, "jobs/pair.py", PAIR)
    for name in "ab":
        write(clone, f"configurations/ex/pair-{name}.yaml", PAIR_CONFIG.format(name=name, wait=str(wait).lower()))
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", f"maxParallelJobs {limit}")
    git(clone, "push", "-q", "origin", "main")


def _slot_run(url: str, state: Path, clock: FakeClock) -> list[str]:
    """Reconcile at 01:50 Prague, then at the 02:00 slot; the slot's run's task outputs."""
    for step in (timedelta(0), timedelta(minutes=10, seconds=5)):
        clock.advance(step)
        app, reconciler = _reconciler(url, state, clock)
        asyncio.run(reconciler.serve(once=True))
        reconciler.release()
    run = _records(app, "run.finished")[-1]
    assert run["status"] == "success", run
    return [(state / "logs" / run["run"] / f"{t}.log").read_text().strip() for t in "ab"]


def test_the_reconciler_runs_tasks_within_the_applied_revisions_max_parallel_jobs(
    backend: str | None, tmp_path: Path
) -> None:
    clone = clone_with_remote(tmp_path)
    url, state, clock = str(tmp_path / "remote.git"), tmp_path / "state", FakeClock(START)
    _push_pair(clone, 1, wait=False)
    assert _slot_run(url, state, clock) == ["alone", "alone"]
    _push_pair(clone, 2, wait=True)  # would wait 10 s in vain, and fail, if the limit stayed 1
    clock.advance(timedelta(days=1, minutes=-10, seconds=-5))
    assert _slot_run(url, state, clock) == ["together", "together"]
