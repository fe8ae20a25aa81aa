"""The index is checked against the ledger's content: one copied from a diverged copy of the state
directory (same number of records, a different last run) is rebuilt, never trusted."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchrecon.store.ledger import Ledger
from orchrecon.store.runstore import RunStore
from tests.clocks import FakeClock
from tests.execution import builders
from tests.execution.builders import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


def _copy_index(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (target / f"index.sqlite{suffix}").unlink(missing_ok=True)
        if (source / f"index.sqlite{suffix}").exists():
            shutil.copy(source / f"index.sqlite{suffix}", target / f"index.sqlite{suffix}")


def test_runs_never_lists_a_run_of_a_diverged_copy_whose_index_was_copied_in(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [builders.task("a")]})
    common, _ = ws.run("daily")
    # A name as long as "state": the task logs' paths are recorded, so both ledgers then have one size.
    other = Workspace(root=ws.root, state=ws.state.parent / "other")
    shutil.copytree(ws.state, other.state)
    mine, _ = ws.run("daily")
    theirs, _ = other.run("daily")
    assert len(ws.ledger()) == len(other.ledger())  # the same number of records
    assert {r["id"] for r in other.runs()} == {common, theirs}  # its index now covers its last run
    _copy_index(other.state, ws.state)
    done = ws.orchrecon("runs", "--format", "json")
    assert (done.code, done.err) == (0, "")
    assert [r["id"] for r in json.loads(done.out)["runs"]] == [mine, common]
    assert ws.show(mine)["status"] == "success"


def _diverged(tmp_path: Path, name: str) -> Ledger:
    ledger = Ledger(tmp_path / name / "ledger", FakeClock())
    ledger.append_one("run.requested", run="run-common", orchestration="o", trigger="manual", phases=[])
    ledger.append_one("run.requested", run=f"run-{name}", orchestration="o", trigger="manual", phases=[])
    return ledger


def test_an_index_of_a_ledger_of_the_same_size_and_seqs_is_rebuilt(tmp_path: Path) -> None:
    a, b = _diverged(tmp_path, "a"), _diverged(tmp_path, "b")
    segment = Path("00000001.jsonl")
    assert (a.directory / segment).stat().st_size == (b.directory / segment).stat().st_size
    assert [r.id for r in RunStore(a, tmp_path / "a" / "index.sqlite").recent()] == ["run-a", "run-common"]
    _copy_index(tmp_path / "a", tmp_path / "b")
    assert [r.id for r in RunStore(b, tmp_path / "b" / "index.sqlite").recent()] == ["run-b", "run-common"]


def test_a_record_the_index_points_at_that_changed_makes_it_rebuild(tmp_path: Path) -> None:
    a, b = _diverged(tmp_path, "a"), _diverged(tmp_path, "b")
    store = RunStore(a, tmp_path / "a" / "index.sqlite")
    assert store.get("run-a") is not None
    b.append_one("table.updated", table="t")  # b now ends elsewhere, and holds run-b where run-a was
    shutil.copy(b.directory / "00000001.jsonl", a.directory / "00000001.jsonl")
    assert store.get("run-a") is None
    assert store.get("run-b") is not None
    assert store.damage == []
