"""A committed file whose name is not UTF-8 or holds a newline is refused, not a crash of the reconciler."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchrecon.cli import main
from tests.builders import ORCHESTRATION, git, small_repo, write
from tests.statuses import read_status


def test_odd_committed_file_names_are_reported_and_the_rest_is_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, state = small_repo(tmp_path / "repo"), tmp_path / "state"
    write(repo, "orchestrations/caf\udce9.yaml", ORCHESTRATION.format(name="cafe", config="ex/a"))
    write(repo, "orchestrations/new\nline.yaml", ORCHESTRATION.format(name="newline", config="ex/a"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "odd names")
    assert main(["-C", str(repo), "--state-dir", str(state), "reconcile", "--once"]) == 0
    capsys.readouterr()
    assert read_status(state, "daily")["conditions"][0]["reason"] == "ReconciliationSucceeded"
    finished = [
        json.loads(line)
        for segment in sorted((state / "ledger").glob("*.jsonl"))
        for line in segment.read_text(encoding="utf-8").splitlines()
    ]
    assert [r["type"] for r in finished if r["type"] == "reconcile.finished"] == ["reconcile.finished"]
