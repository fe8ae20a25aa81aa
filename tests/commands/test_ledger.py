"""`orchrecon ledger verify|repair` on each kind of damage: verify lists it; repair moves every damaged
byte into ledger/damaged/, keeps every sound record byte for byte, records `ledger.repaired`, and
verify is clean afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.store.locks import reconciler_lock
from tests.execution import builders
from tests.execution.builders import Workspace
from tests.store.damaging import KINDS, Damaged, Kind, damaged_ledger, message


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


def _restored(segment: bytes, manifest: dict[str, object], data: bytes) -> bytes:
    """The segment with the moved lines put back as the manifest says (lowest offset first)."""
    lines = manifest["lines"]
    assert isinstance(lines, list)
    for entry in sorted(lines, key=lambda e: e["offset"]):
        moved = data[entry["at"] : entry["at"] + entry["length"]]
        segment = segment[: entry["offset"]] + moved + segment[entry["offset"] :]
    return segment


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_verify_lists_the_damaged_line(ws: Workspace, kind: Kind, snapshot: SnapshotAssertion) -> None:
    damaged = damaged_ledger(ws, kind)
    done = ws.orchrecon("ledger", "verify")
    assert (done.code, done.err) == (1, "")
    assert done.out.startswith(f"{damaged.where}, {damaged.pieces()[0][2]} bytes: ")
    assert message(done.out, ws) == snapshot
    report = json.loads(ws.orchrecon("ledger", "verify", "--format", "json").out)
    assert report["clean"] is False
    assert [(d["line"], d["offset"], d["length"]) for d in report["damaged"]] == damaged.pieces()
    assert report["records"] == len(damaged.sound_lines())


def _repaired(damaged: Damaged) -> tuple[list[bytes], dict[str, object], bytes]:
    """Run `ledger repair`; the segment's lines after it, the manifest and the moved bytes."""
    ws = damaged.ws
    done = ws.orchrecon("ledger", "repair")
    assert (done.code, done.err) == (0, ""), done.out
    (manifest_path,) = (ws.state / "ledger" / "damaged").glob("*.json")
    (data_path,) = (ws.state / "ledger" / "damaged").glob("*.bin")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return ws.segment().read_bytes().splitlines(keepends=True), manifest, data_path.read_bytes()


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_repair_moves_every_damaged_byte_aside_and_keeps_every_sound_record(ws: Workspace, kind: Kind) -> None:
    damaged = damaged_ledger(ws, kind)
    lines, manifest, data = _repaired(damaged)
    assert lines[:-1] == damaged.sound_lines()  # byte for byte, in order
    assert data == damaged.moved()
    assert _restored(b"".join(lines[:-1]), manifest, data) == damaged.bytes_after_damage
    record = json.loads(lines[-1])
    assert record["type"] == "ledger.repaired"
    assert record["manifest"] == f"damaged/{manifest['bytes']}".replace(".bin", ".json")
    entries = manifest["lines"]
    assert isinstance(entries, list)
    assert [(m["segment"], m["offset"], m["length"]) for m in record["moved"]] == [
        (e["segment"], e["offset"], e["length"]) for e in entries
    ]
    verified = ws.orchrecon("ledger", "verify")
    assert verified.code == 0, verified.out
    assert verified.out.startswith("clean: ")


@pytest.mark.parametrize("kind", [KINDS[0], KINDS[4]], ids=str)
def test_after_repair_commands_append_again_and_the_damaged_run_is_recorded_honestly(ws: Workspace, kind: Kind) -> None:
    damaged = damaged_ledger(ws, kind)
    _repaired(damaged)
    third, done = ws.run("daily")
    assert (done.code, done.err) == (0, "")
    runs = ws.orchrecon("runs", "--format", "json")
    assert runs.err == ""
    statuses = {r["id"]: r["status"] for r in json.loads(runs.out)["runs"]}
    assert statuses[damaged.second] == statuses[third] == "success"
    first = ws.show(damaged.first)
    if kind.kept:  # only a copy was moved: the run's own records are whole
        assert first["status"] == "success"
    else:  # its run.finished was moved aside: it is not said to have died or succeeded
        assert first["status"] == "terminated"
        assert first["reason"].startswith("no record of how it ended: ledger repair (seq ")
        assert "died" not in first["reason"]


def test_verify_and_repair_of_a_clean_ledger(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [builders.task("a")]})
    ws.run("daily")
    before = ws.segment().read_bytes()
    with ws.segment().open("ab") as f:
        f.write(b'{"v":1,"seq":99,"ty')  # torn by a crash: not damage
    verified = ws.orchrecon("ledger", "verify")
    assert verified.code == 0
    records = len(before.splitlines())
    assert verified.out == (
        f"clean: {records} records in 1 segment\n"
        "torn last line (19 bytes, a crash mid-append): the next append cuts it off\n"
    )
    repaired = ws.orchrecon("ledger", "repair")
    assert (repaired.code, repaired.out) == (0, "nothing to repair: every ledger line is sound\n")
    assert ws.segment().read_bytes() == before + b'{"v":1,"seq":99,"ty'
    assert not (ws.state / "ledger" / "damaged").exists()


def test_repair_waits_for_no_reconciler(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    damaged = damaged_ledger(ws, KINDS[0])
    lock = reconciler_lock(ws.state / "locks")
    assert lock.try_acquire()
    try:
        done = ws.orchrecon("ledger", "repair")
    finally:
        lock.release()
    assert done.code == 1
    assert message(done.err, ws) == snapshot
    assert ws.segment().read_bytes() == damaged.bytes_after_damage


def test_verify_without_a_ledger_says_so(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    done = Workspace(root=tmp_path, state=tmp_path / "state").orchrecon("ledger", "verify")
    assert done.code == 2
    assert done.err.replace(str(tmp_path), "<TMP>") == snapshot
