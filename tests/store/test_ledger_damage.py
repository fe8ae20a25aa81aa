"""A damaged ledger line in the middle of a segment, then the index deleted: every command says where
the damage is in one line, read-only commands show what they can, appending ones refuse, and nothing
false (a `run.finished terminated` for a run that had succeeded) is ever recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from tests.execution import builders
from tests.execution.builders import Workspace
from tests.store.damaging import KINDS, Kind, damaged_ledger, message


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_runs_lists_what_it_can_with_one_warning_and_appends_nothing(
    ws: Workspace, kind: Kind, snapshot: SnapshotAssertion
) -> None:
    damaged = damaged_ledger(ws, kind)
    done = ws.orchrecon("runs", "--format", "json")
    assert done.code == 0, done.err
    listed = {r["id"]: r["status"] for r in json.loads(done.out)["runs"]}
    assert listed == {damaged.first: "success" if kind.kept else "processing", damaged.second: "success"}
    assert len(done.err.splitlines()) == 1
    assert done.err.startswith(f"orchrecon: warning: {damaged.where}: damaged record (")
    assert message(done.err, ws) == snapshot
    assert ws.segment().read_bytes() == damaged.bytes_after_damage  # no false run.finished, nothing at all


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_run_refuses_in_one_line_and_records_nothing(ws: Workspace, kind: Kind, snapshot: SnapshotAssertion) -> None:
    damaged = damaged_ledger(ws, kind)
    done = ws.orchrecon("run", "daily")
    assert done.code == 1
    assert (done.out, len(done.err.splitlines())) == ("", 1)
    assert done.err.startswith(f"orchrecon: error: {damaged.where}: damaged record (")
    assert message(done.err, ws) == snapshot
    assert ws.segment().read_bytes() == damaged.bytes_after_damage
    assert len(ws.probes(event="start")) == 2  # the two runs before the damage; no task ran


READING = (("runs",), ("show", "FIRST"), ("plan",), ("tables", "list"), ("status",), ("logs", "FIRST"))
APPENDING = (
    ("run", "daily"),
    ("retry", "FIRST"),
    ("cancel", "FIRST"),
    ("tables", "touch", "in.c-ex.t"),
    ("tokens", "rotate", "daily"),
    ("reconcile", "--once"),
    ("report",),  # appends nothing, but rewrites every status file and report from what the ledger says
)


def test_every_command_reads_with_a_warning_or_refuses_to_append(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    damaged = damaged_ledger(ws, KINDS[0])  # NUL bytes over 8 bytes of a run.finished line
    seen = {}
    for args in (*READING, *APPENDING):
        argv = [damaged.first if a == "FIRST" else a for a in args]
        done = ws.orchrecon(*argv)
        assert len(done.err.splitlines()) == 1, (argv, done.err)
        assert damaged.where in done.err
        seen[" ".join(args)] = (done.code, message(done.err, ws))
    assert {c: code for c, (code, _) in seen.items()} == {
        **{" ".join(a): 0 for a in READING},
        **{" ".join(a): 1 for a in APPENDING},
    }
    assert seen == snapshot
    assert ws.segment().read_bytes() == damaged.bytes_after_damage
    assert not list((ws.state / "status").glob("*.json"))  # the reconciler refused before writing any


def test_show_and_retry_of_a_run_damaged_after_it_was_indexed(ws: Workspace) -> None:
    damaged = damaged_ledger(ws, KINDS[0], keep_index=True)  # the index still points at the damaged line
    shown = ws.orchrecon("show", damaged.first, "--format", "json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["status"] == "processing"  # its run.finished is unreadable
    assert shown.err.startswith(f"orchrecon: warning: {damaged.where}: damaged record (not JSON)")
    retried = ws.orchrecon("retry", damaged.first)
    assert retried.code == 1
    assert retried.err.startswith(f"orchrecon: error: {damaged.where}: damaged record (not JSON)")
    assert ws.segment().read_bytes() == damaged.bytes_after_damage


def test_a_dead_run_is_not_recorded_while_the_ledger_is_damaged(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [builders.task("a")]})
    ws.orchestrate("slow", {"one": [builders.task("b", gate="go")]})
    first, _ = ws.run("daily")
    process = ws.start("run", "slow")
    builders.wait_until(lambda: ws.started("b"), what="the slow run's task")
    process.kill()  # its run stays `processing` with no owner: recovery would record it terminated
    ws.finish(process)
    segment = ws.segment()
    lines = segment.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if b'"run.finished"' in line and first.encode() in line)
    lines[index] = KINDS[0].damage(lines[index])
    segment.write_bytes(b"".join(lines))
    (ws.state / "index.sqlite").unlink()
    for _ in range(2):
        done = ws.orchrecon("runs")
        assert done.code == 0
        assert "damaged record (not JSON)" in done.err
        assert segment.read_bytes() == b"".join(lines)
    assert ws.orchrecon("ledger", "repair").code == 0
    slow = next(r for r in ws.runs() if r["orchestration"] == "slow")
    assert slow["status"] == "terminated"  # recorded once the damage is set aside


def test_records_written_before_checksums_are_still_sound(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [builders.task("a")]})
    first, _ = ws.run("daily")
    segment = ws.segment()
    old = []
    for line in segment.read_bytes().splitlines():
        record = json.loads(line)
        del record["crc"]
        old.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
    segment.write_bytes(b"".join(old))
    (ws.state / "index.sqlite").unlink()
    assert ws.orchrecon("ledger", "verify").code == 0
    runs = ws.orchrecon("runs", "--format", "json")
    assert (runs.code, runs.err) == (0, "")
    assert [r["status"] for r in json.loads(runs.out)["runs"]] == ["success"]
    second, done = ws.run("daily")
    assert done.code == 0, done.err
    assert segment.read_bytes().startswith(b"".join(old))
    assert {r["id"] for r in ws.runs()} == {first, second}


def test_a_running_reconciler_that_meets_damage_stops_in_one_line(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", {"one": [builders.task("a")]})
    ws.commit()
    process = ws.start("reconcile", "--interval", "1s")
    builders.wait_until(ws.ledger, timeout=20, what="the reconciler's first record")
    with Ledger(ws.state / "ledger", SystemClock()).exclusive():  # between two of its appends
        whole = ws.segment().read_bytes()
        with ws.segment().open("ab") as f:
            f.write(b"garbage\n")  # it follows the ledger: its next look meets this line
    done = ws.finish(process, timeout=20)
    assert done.code == 1
    line = len(whole.splitlines()) + 1
    assert done.err.startswith(f"orchrecon: error: {ws.segment()}:{line} (byte {len(whole)}): ")
    assert re.sub(r"jsonl:\d+", "jsonl:<L>", message(done.err, ws)) == snapshot
