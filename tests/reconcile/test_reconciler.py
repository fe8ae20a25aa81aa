"""The reconciler against real git repositories and real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchrecon.cli import main
from tests.backends import ledger_records
from tests.builders import CONFIG, ORCHESTRATION, TRIGGERED, git, small_repo, write
from tests.statuses import read_status


def _commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def _repo(tmp_path: Path) -> tuple[Path, Path, str]:
    repo = small_repo(tmp_path / "repo")
    git(repo, "init", "-q", "-b", "main")
    return repo, tmp_path / "state", _commit(repo, "first")


def _reconcile_once(repo: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(repo), "--state-dir", str(state), "reconcile", "--once"]) == 0
    capsys.readouterr()


def _ready(status: dict[str, Any]) -> tuple[str, str]:
    condition = status["conditions"][0]
    return condition["status"], condition["reason"]


def test_last_good_definition_is_kept_and_the_newest_valid_commit_wins(
    backend: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, state, first = _repo(tmp_path)
    _reconcile_once(repo, state, capsys)
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded")
    write(repo, "orchestrations/daily.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\nmetadata: {name: daily}\n")
    broken = _commit(repo, "break it")
    _reconcile_once(repo, state, capsys)  # a new process: the last good definition comes back from the ledger
    status = read_status(state, "daily")
    assert _ready(status) == ("False", "ValidationFailed")
    assert (status["appliedRevision"], status["lastAttemptedRevision"]) == (first, broken)
    assert status["diagnostics"][0]["message"] == "missing required property 'spec'"
    write(repo, "orchestrations/daily.yaml", ORCHESTRATION.format(name="daily", config="ex/a"))
    fixed = _commit(repo, "fix it")
    _reconcile_once(repo, state, capsys)
    assert read_status(state, "daily")["appliedRevision"] == fixed
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded")


def test_a_removed_orchestration_says_so_and_an_older_history_is_followed(
    backend: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, state, first = _repo(tmp_path)
    write(repo, "orchestrations/weekly.yaml", ORCHESTRATION.format(name="weekly", config="ex/a"))
    _commit(repo, "add weekly")
    _reconcile_once(repo, state, capsys)
    (repo / "orchestrations" / "weekly.yaml").unlink()
    _commit(repo, "remove weekly")
    _reconcile_once(repo, state, capsys)
    assert _ready(read_status(state, "weekly")) == ("False", "Removed")
    git(repo, "reset", "-q", "--hard", first)  # as after a force-push of an older history
    _reconcile_once(repo, state, capsys)
    assert read_status(state, "daily")["appliedRevision"] == first
    kinds = [r["type"] for r in ledger_records(state)]
    assert kinds.count("reconcile.finished") == 3


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _records(state: Path) -> list[dict[str, Any]]:
    return ledger_records(state)


def _start(repo: Path, state: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "reconcile", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _touch(repo: Path, state: Path, table: str) -> float:
    subprocess.run(
        [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "tables", "touch", table],
        check=True,
        capture_output=True,
    )
    return time.monotonic()


def test_tables_touched_from_another_process_fire_the_trigger_and_the_cooldown_suppresses(
    backend: str | None, tmp_path: Path
) -> None:
    repo, state, _ = _repo(tmp_path)
    write(repo, "orchestrations/marts.yaml", TRIGGERED.format(cooldown="1h"))
    _commit(repo, "add a triggered orchestration")
    reconciler = _start(repo, state)
    try:
        _wait_for(lambda: any(r["type"] == "trigger.armed" for r in _records(state)), "the trigger to be armed")
        _wait_for((state / "status" / "daily.json").exists, "the first statuses")
        untouched = (state / "status" / "daily.json").stat().st_mtime_ns
        _touch(repo, state, "in.c-ex.a")
        touched = _touch(repo, state, "in.c-ext.b")
        _wait_for(lambda: any(r["type"] == "trigger.fired" for r in _records(state)), "the trigger to fire")
        assert time.monotonic() - touched < 2.0
        assert (state / "status" / "daily.json").stat().st_mtime_ns == untouched  # only statuses a change touches
        fired = next(r for r in _records(state) if r["type"] == "trigger.fired")
        assert fired["run"] in [r["run"] for r in _records(state) if r["type"] == "run.requested"]
        _touch(repo, state, "in.c-ex.a")
        _touch(repo, state, "in.c-ext.b")
        _wait_for(lambda: any(r.get("reason") == "cooldown" for r in _records(state)), "the cool-down")
        assert [r["type"] for r in _records(state)].count("trigger.fired") == 1
    finally:
        reconciler.send_signal(signal.SIGTERM)
        _, err = reconciler.communicate(timeout=30)
    assert reconciler.returncode == 0, err


def test_a_second_reconciler_on_the_same_state_directory_refuses(backend: str | None, tmp_path: Path) -> None:
    repo, state, _ = _repo(tmp_path)
    first = _start(repo, state)
    try:
        _wait_for((state / "status" / "_reconciler.json").exists, "the first reconciler")
        second = _start(repo, state)
        _, err = second.communicate(timeout=30)
        assert second.returncode == 1
        assert err.startswith("orchrecon: error: another reconciler holds")
        assert "Traceback" not in err
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0


SLEEPER = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {component: ex, name: sleeper}
spec:
  run: {command: [python, -c, "import time; time.sleep(60)"]}
"""

SLOW = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: slow}
spec:
  phases:
    - name: main
      tasks: [{name: nap, config: ex/sleeper}]
  trigger: {tables: [in.c-ext.go], cooldown: 1m}
"""


def _slow_repo(tmp_path: Path) -> tuple[Path, Path]:
    repo, state, _ = _repo(tmp_path)
    write(repo, "configurations/ex/sleeper.yaml", SLEEPER)
    write(repo, "orchestrations/slow.yaml", SLOW)
    _commit(repo, "a slow orchestration")
    return repo, state


def _started_run(state: Path) -> str | None:
    return next((r["run"] for r in _records(state) if r["type"] == "task.started"), None)


def test_sigterm_during_a_run_exits_0_within_the_grace_and_records_it_terminated(
    backend: str | None, tmp_path: Path
) -> None:
    repo, state = _slow_repo(tmp_path)
    reconciler = _start(repo, state, "--grace", "1s")
    _wait_for(lambda: any(r["type"] == "trigger.armed" for r in _records(state)), "the trigger to be armed")
    _touch(repo, state, "in.c-ext.go")
    _wait_for(lambda: _started_run(state) is not None, "the run to start")
    signalled = time.monotonic()
    reconciler.send_signal(signal.SIGTERM)
    _, err = reconciler.communicate(timeout=30)
    assert reconciler.returncode == 0, err
    assert time.monotonic() - signalled < 10
    finished = [r for r in _records(state) if r["type"] == "run.finished"]
    assert [(r["run"], r["status"]) for r in finished] == [(_started_run(state), "terminated")]


def test_a_standby_takes_over_when_the_active_reconciler_is_killed(backend: str | None, tmp_path: Path) -> None:
    repo, state = _slow_repo(tmp_path)
    active = _start(repo, state)
    _wait_for(lambda: any(r["type"] == "trigger.armed" for r in _records(state)), "the trigger to be armed")
    standby = _start(repo, state, "--standby")
    try:
        _touch(repo, state, "in.c-ext.go")
        _wait_for(lambda: _started_run(state) is not None, "the run to start")
        active.kill()
        active.communicate(timeout=30)
        _wait_for(
            lambda: json.loads((state / "status" / "_reconciler.json").read_text())["pid"] == standby.pid,
            "the standby to take over",
        )
        finished = [r for r in _records(state) if r["type"] == "run.finished"]
        assert [(r["run"], r["status"]) for r in finished] == [(_started_run(state), "terminated")]
        assert "died while the run was processing" in finished[0]["reason"]
    finally:
        standby.send_signal(signal.SIGTERM)
        standby.communicate(timeout=30)
    assert standby.returncode == 0


def test_with_watch_a_new_commit_is_applied_without_waiting_for_the_interval(
    backend: str | None, tmp_path: Path
) -> None:
    repo, state, first = _repo(tmp_path)
    reconciler = _start(repo, state, "--watch", "--interval", "1h")
    try:
        _wait_for((state / "status" / "daily.json").exists, "the first reconcile")
        assert read_status(state, "daily")["appliedRevision"] == first
        write(repo, "orchestrations/weekly.yaml", ORCHESTRATION.format(name="weekly", config="ex/a"))
        second = _commit(repo, "add weekly")
        _wait_for((state / "status" / "weekly.json").exists, "the commit to be applied", timeout=5)
        assert read_status(state, "weekly")["appliedRevision"] == second
    finally:
        reconciler.send_signal(signal.SIGTERM)
        _, err = reconciler.communicate(timeout=30)
    assert reconciler.returncode == 0, err


def test_updates_made_while_no_reconciler_runs_are_decided_once_when_one_starts(
    backend: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, state, _ = _repo(tmp_path)
    # Its task updates no table: every update below is the test's.
    write(repo, "configurations/ex/a.yaml", CONFIG.format(component="ex", name="a", table="out.c-ex.a"))
    write(repo, "orchestrations/marts.yaml", TRIGGERED.format(cooldown="1h"))
    _commit(repo, "add a triggered orchestration")
    _reconcile_once(repo, state, capsys)  # arms the trigger

    def decisions() -> list[str]:
        return [r["type"] for r in _records(state) if r["type"] in ("trigger.fired", "trigger.suppressed")]

    _touch(repo, state, "in.c-ex.a")
    _touch(repo, state, "in.c-ext.b")
    _reconcile_once(repo, state, capsys)
    assert decisions() == ["trigger.fired"]
    _reconcile_once(repo, state, capsys)  # decided already: not again
    assert decisions() == ["trigger.fired"]
    _touch(repo, state, "in.c-ex.a")
    _touch(repo, state, "in.c-ext.b")
    _reconcile_once(repo, state, capsys)  # within the cool-down
    _reconcile_once(repo, state, capsys)
    assert decisions() == ["trigger.fired", "trigger.suppressed"]
    assert [r["status"] for r in _records(state) if r["type"] == "run.finished"] == ["success"]
