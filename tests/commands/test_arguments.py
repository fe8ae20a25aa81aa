"""Argument values a careless user gets wrong: each a one-line error, exit 2, and nothing recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.cli import main
from tests.builders import small_repo, write

WITH_A_DISABLED_TASK = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: daily}
spec:
  phases:
    - name: main
      tasks:
        - {name: first, config: ex/a}
        - name: off
          config: ex/a
          enabled: false
  schedules: [{cron: "0 6 1 1 *", timezone: Europe/Prague}]
"""

CASES = {
    "plan-count-huge": ["plan", "--count", "100000000"],
    "plan-count-zero": ["plan", "--count", "0"],
    "plan-from-year-9999": ["plan", "--from", "9999-12-31T23:59Z"],
    "plan-from-before-1970": ["plan", "--from", "1969-12-31T23:59Z"],
    "plan-from-empty": ["plan", "--from", ""],
    "plan-from-no-zone": ["plan", "--from", "2027-03-26T00:00"],
    "runs-limit-zero": ["runs", "--limit", "0"],
    "runs-limit-negative": ["runs", "--limit", "-5"],
    "runs-limit-huge": ["runs", "--limit", "99999999999999999999"],
    "runs-empty-name": ["runs", ""],
    "cancel-wait-number": ["cancel", "20261202-003611-c9a304", "--wait", "20"],
    "cancel-wait-nonsense": ["cancel", "20261202-003611-c9a304", "--wait", "soon"],
    "run-as-not-an-email": ["run", "daily", "--as", "not an email"],
    "run-as-empty": ["run", "daily", "--as", ""],
    "run-disabled-task": ["run", "daily", "--task", "off"],
    "run-disabled-task-among-others": ["run", "daily", "--task", "first", "--task", "off"],
    "run-nothing-left": ["run", "daily", "--skip-task", "first"],
    "retry-as-not-an-email": ["retry", "20261202-003611-c9a304", "--as", "me at example.com"],
    "health-max-age-zero": ["health", "--max-age", "0s"],
    "health-max-age-nonsense": ["health", "--max-age", "a while"],
    "reconcile-git-empty": ["reconcile", "--git", "", "--once"],
    "reconcile-branch-empty": ["reconcile", "--git", "https://git.example/repo.git", "--branch", "", "--once"],
    "reconcile-interval-nonsense": ["reconcile", "--interval", "1 minute", "--once"],
    "reconcile-grace-too-long": ["reconcile", "--grace", "400d", "--once"],
    "run-dask-scheduler-empty": ["run", "daily", "--dask-scheduler", ""],
    "reconcile-dask-scheduler-empty": ["reconcile", "--dask-scheduler", "", "--once"],
    "validate-empty-path": ["validate", ""],
    "validate-path-with-escapes": ["validate", "orchestrations/\x1b[2Jgone.yaml"],
}


@pytest.mark.parametrize("argv", CASES.values(), ids=CASES.keys())
def test_a_careless_argument_is_one_line_and_exit_2(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    repo, state = small_repo(tmp_path / "repo"), tmp_path / "state"
    write(repo, "orchestrations/daily.yaml", WITH_A_DISABLED_TASK)
    code = main(["-C", str(repo), "--state-dir", str(state), *argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("orchrecon: error: ")
    assert err.replace(str(tmp_path), "<TMP>") == snapshot
    assert not (state / "ledger").exists() or not any((state / "ledger").iterdir())


def test_plan_at_the_far_end_of_the_calendar_stops_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = small_repo(tmp_path / "repo")
    write(repo, "orchestrations/daily.yaml", WITH_A_DISABLED_TASK)
    (tmp_path / "state").mkdir()  # plan reads a state directory, it does not create one
    argv = ["-C", str(repo), "--state-dir", str(tmp_path / "state"), "plan", "--from", "8999-06-01T00:00Z"]
    assert main([*argv, "--count", "1000"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.endswith("Z)")]
    assert len(lines) == 999  # 9000 to 9998: the calendar ends before a thousandth New Year
    assert lines[-1].endswith("(9998-01-01T05:00:00Z)")


def test_cancel_waits_for_a_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = small_repo(tmp_path / "repo")
    argv = ["-C", str(repo), "--state-dir", str(tmp_path / "state"), "cancel", "20261202-003611-c9a304"]
    assert main([*argv, "--wait", "1m30s"]) == 2  # past parsing: the run is unknown
    assert capsys.readouterr().err == "orchrecon: error: no run '20261202-003611-c9a304' (orchrecon runs lists them)\n"
