"""The reconciler's log: conditions in words, told once; how each run ended; what SIGTERM does. And `show`
saying what started a run the reconciler requested."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.cli import main
from tests.builders import ORCHESTRATION, TRIGGERED, git, small_repo, write
from tests.clocks import FakeClock
from tests.execution.builders import RUN_ID, TIME, Lines
from tests.reconcile.test_reconciler import _records, _slow_repo, _start, _touch, _wait_for
from tests.reconcile.test_reconciler_clock import START, _reconciler, _remote

REVISION = re.compile(r"\b[0-9a-f]{40}\b|\b[0-9a-f]{12}\b")


def _normalise(text: str, *paths: Path) -> list[str]:
    for path in paths:
        text = text.replace(str(path), f"<{path.name.upper()}>")
    text = re.sub(r"pid=\d+", "pid=<PID>", text)
    text = RUN_ID.sub("<RUN>", TIME.sub("<TIME>", REVISION.sub("<REV>", text)))
    text = re.sub(r"duration=\d+\.\ds", "duration=<DURATION>", text)
    return text.splitlines()


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def _once(repo: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["-C", str(repo), "--state-dir", str(state), "reconcile", "--once"]) == 0
    return _normalise(capsys.readouterr().out, repo, state)


def test_conditions_are_told_in_words_once_and_a_removed_one_is_not_not_ready(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    repo, state = small_repo(tmp_path / "repo", orchestrations=("daily", "weekly")), tmp_path / "state"
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "first")
    assert _once(repo, state, capsys) == snapshot(name="first start")
    write(repo, "orchestrations/daily.yaml", ORCHESTRATION.format(name="daily", config="ex/b"))
    (repo / "orchestrations" / "weekly.yaml").unlink()
    _commit(repo, "break daily, remove weekly")
    assert _once(repo, state, capsys) == snapshot(name="broken and removed")
    reconciler = json.loads((state / "status" / "_reconciler.json").read_text())
    assert reconciler["notReady"] == ["daily"]
    assert _once(repo, state, capsys) == snapshot(name="a restart repeats nothing")
    write(repo, "README.md", "an unrelated change\n")
    _commit(repo, "unrelated")
    assert _once(repo, state, capsys) == snapshot(name="a new revision repeats nothing")
    write(repo, "orchestrations/daily.yaml", ORCHESTRATION.format(name="daily", config="ex/a"))
    _commit(repo, "fix daily")
    assert _once(repo, state, capsys) == snapshot(name="fixed")


def test_a_run_s_end_is_logged_with_its_status_and_show_names_the_trigger_s_tables(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    repo, state = small_repo(tmp_path / "repo"), tmp_path / "state"
    write(repo, "orchestrations/marts.yaml", TRIGGERED.format(cooldown="1h"))
    git(repo, "init", "-q", "-b", "main")
    _commit(repo, "a triggered orchestration")
    reconciler = _start(repo, state)
    log = Lines(reconciler)
    try:
        _wait_for(lambda: any(r["type"] == "trigger.armed" for r in _records(state)), "the trigger to be armed")
        _touch(repo, state, "in.c-ex.a")
        _touch(repo, state, "in.c-ext.b")
        log.wait_for("run finished")
    finally:
        reconciler.send_signal(signal.SIGTERM)
        reconciler.wait(30)
    assert reconciler.returncode == 0
    assert _normalise("\n".join(log.rest()), repo, state)[1:] == snapshot(name="log")
    (run_id,) = [r["run"] for r in _records(state) if r["type"] == "run.requested"]
    shown = subprocess.run(
        [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "show", run_id],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert _normalise(shown.stdout, repo, state)[:3] == snapshot(name="show")


def test_sigterm_logs_the_grace_and_the_runs_it_terminated(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    repo, state = _slow_repo(tmp_path)
    reconciler = _start(repo, state, "--grace", "1s")
    log = Lines(reconciler)
    _wait_for(lambda: any(r["type"] == "trigger.armed" for r in _records(state)), "the trigger to be armed")
    _touch(repo, state, "in.c-ext.go")
    _wait_for(lambda: any(r["type"] == "task.started" for r in _records(state)), "the run to start")
    reconciler.send_signal(signal.SIGTERM)
    assert reconciler.wait(30) == 0
    assert _normalise("\n".join(log.rest()), repo, state)[1:] == snapshot


def test_show_names_the_schedule_and_slot_of_a_caught_up_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    url, _ = _remote(tmp_path)
    clock = FakeClock(START)
    for step in (timedelta(0), timedelta(days=1)):  # armed, then a day down: the slot is caught up
        clock.advance(step)
        app, reconciler = _reconciler(url, tmp_path / "state", clock)
        asyncio.run(reconciler.serve(once=True))
        reconciler.release()
        app.ledger.close()
    (run_id,) = [r["run"] for _, r in app.ledger.read() if r["type"] == "run.requested"]
    clone = small_repo(tmp_path / "elsewhere")  # any repository: show reads only the state directory
    assert main(["-C", str(clone), "--state-dir", str(tmp_path / "state"), "show", run_id]) == 0
    assert _normalise(capsys.readouterr().out, tmp_path)[:3] == snapshot(name="text")
    assert main(["-C", str(clone), "--state-dir", str(tmp_path / "state"), "show", run_id, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["cause"] == {
        "schedule": "nightly:0 2 * * *@Europe/Prague",
        "cron": "0 2 * * *",
        "timezone": "Europe/Prague",
        "slot": "2026-03-02T01:00:00Z",
        "caughtUp": True,
    }
