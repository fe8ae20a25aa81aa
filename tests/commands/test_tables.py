from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchrecon.cli import main
from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from tests.builders import TRIGGERED, small_repo, write


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    repo = small_repo(tmp_path / "repo")
    write(repo, "orchestrations/marts.yaml", TRIGGERED.format(cooldown="10m"))
    (tmp_path / "state").mkdir()  # read-only commands (plan, tables list) need it to exist
    return repo, tmp_path / "state"


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_touch_records_updates_and_list_shows_writers_and_triggers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo, state = _repo(tmp_path)
    base = ["-C", str(repo), "--state-dir", str(state)]
    touched = _json(capsys, *base, "tables", "touch", "in.c-ext.b", "--format", "json")
    assert [u["table"] for u in touched["updated"]] == ["in.c-ext.b"]
    rows = {r["table"]: r for r in _json(capsys, *base, "tables", "list", "--format", "json")["tables"]}
    assert rows["in.c-ex.a"]["writtenBy"] == ["ex/a"]
    assert rows["in.c-ex.a"]["lastUpdate"] is None
    assert rows["in.c-ext.b"]["triggers"] == ["marts"]
    assert rows["in.c-ext.b"]["lastUpdate"] == touched["updated"][0]["time"]
    updates = [r for _, r in Ledger(state / "ledger", SystemClock()).read() if r["type"] == "table.updated"]
    assert [u["table"] for u in updates] == ["in.c-ext.b"]


def test_touch_refuses_a_bad_table_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, state = _repo(tmp_path)
    assert main(["-C", str(repo), "--state-dir", str(state), "tables", "touch", "bad table"]) == 2
    assert "'bad table' is not a table id" in capsys.readouterr().err


def test_plan_shows_what_an_armed_trigger_waits_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, state = _repo(tmp_path)
    base = ["-C", str(repo), "--state-dir", str(state)]
    plan = _json(capsys, *base, "plan", "--format", "json")
    trigger = next(o for o in plan["orchestrations"] if o["name"] == "marts")["trigger"]
    assert trigger["state"] == "not armed"
    ledger = Ledger(state / "ledger", SystemClock())
    ledger.append_one(
        "trigger.armed", trigger="marts:in.c-ex.a,in.c-ext.b", orchestration="marts", since="2026-01-01T00:00:00.000Z"
    )
    assert main([*base, "tables", "touch", "in.c-ext.b"]) == 0
    capsys.readouterr()
    plan = _json(capsys, *base, "plan", "--format", "json")
    trigger = next(o for o in plan["orchestrations"] if o["name"] == "marts")["trigger"]
    assert (trigger["state"], trigger["waitingFor"]) == ("waiting", ["in.c-ex.a"])
    assert main([*base, "tables", "touch", "in.c-ex.a"]) == 0
    capsys.readouterr()
    plan = _json(capsys, *base, "plan", "--format", "json")
    trigger = next(o for o in plan["orchestrations"] if o["name"] == "marts")["trigger"]
    assert (trigger["state"], trigger["waitingFor"], trigger["cooldownUntil"]) == ("fire", [], None)
