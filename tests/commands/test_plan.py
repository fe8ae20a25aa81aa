from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.cli import main
from tests.builders import small_repo, write
from tests.conftest import EXAMPLE_REPO

FROM = ["--from", "2027-03-26T00:00Z", "--count", "3"]  # across Prague's spring-forward


def test_plan_of_the_example_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    assert main(["-C", str(EXAMPLE_REPO), "--state-dir", str(tmp_path), "plan", *FROM]) == 0
    assert capsys.readouterr().out == snapshot


def test_plan_json_lists_phases_and_tasks_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(EXAMPLE_REPO), "--state-dir", str(tmp_path), "plan", "--format", "json", *FROM]) == 0
    plan = json.loads(capsys.readouterr().out)
    daily = next(o for o in plan["orchestrations"] if o["name"] == "daily-sales")
    assert [p["name"] for p in daily["phases"]] == ["extract", "transform", "write"]
    assert [t["enabled"] for t in daily["phases"][0]["tasks"]].count(False) == 1
    assert daily["schedules"][0]["next"] == [
        {"utc": "2027-03-26T05:00:00Z", "local": "2027-03-26T06:00:00+01:00"},
        {"utc": "2027-03-29T04:00:00Z", "local": "2027-03-29T06:00:00+02:00"},
        {"utc": "2027-03-30T04:00:00Z", "local": "2027-03-30T06:00:00+02:00"},
    ]
    assert daily["schedules"][0]["dstTransitions"] == [
        {
            "utc": "2027-03-28T01:00:00Z",
            "local": "2027-03-28T03:00:00+02:00",
            "offsetBefore": "+01:00",
            "offsetAfter": "+02:00",
        }
    ]


def test_plan_shows_valid_orchestrations_and_fails_on_invalid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_repo(tmp_path, orchestrations=("good",))
    write(tmp_path, "orchestrations/bad.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\n")
    (tmp_path / "state").mkdir()  # plan only reads: a named state directory must exist
    assert main(["-C", str(tmp_path), "--state-dir", str(tmp_path / "state"), "plan"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("good\n")
    assert err.splitlines() == [
        "orchestrations/bad.yaml:1:1: error: missing required property 'metadata' [$]",
        "orchestrations/bad.yaml:1:1: error: missing required property 'spec' [$]",
    ]
