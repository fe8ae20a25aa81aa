from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger, Position
from orchrecon.store.records import Damage, LedgerDamagedError
from tests.clocks import FakeClock


def _ledger(tmp_path: Path, **kwargs: int) -> Ledger:
    return Ledger(tmp_path / "ledger", FakeClock(), **kwargs)


def _seqs(ledger: Ledger) -> list[int]:
    return [r["seq"] for _, r in ledger.read()]


def test_records_are_versioned_numbered_and_timestamped(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    first, second = ledger.append([{"type": "a", "x": 1}, {"type": "b"}])
    assert first == {"v": 1, "seq": 1, "time": "2026-03-02T05:00:00.000Z", "type": "a", "x": 1}
    assert second["seq"] == 2
    assert [r for _, r in ledger.read()] == [first, second]


def test_seq_continues_across_ledger_instances(tmp_path: Path) -> None:
    _ledger(tmp_path).append_one("a")
    other = _ledger(tmp_path)
    other.append_one("b")
    _ledger(tmp_path).append_one("c")
    other.append_one("d")
    assert _seqs(other) == [1, 2, 3, 4]


def test_torn_last_line_is_ignored_then_cut_off_by_the_next_append(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    ledger.append([{"type": "a"}, {"type": "b"}])
    segment = tmp_path / "ledger" / "00000001.jsonl"
    before = segment.read_bytes()
    with segment.open("ab") as f:
        f.write(b'{"v":1,"seq":3,"ty')
    assert _seqs(_ledger(tmp_path)) == [1, 2]
    _ledger(tmp_path).append_one("c")
    after = segment.read_bytes()
    assert after.startswith(before)
    assert [json.loads(line)["seq"] for line in after.splitlines()] == [1, 2, 3]


def test_damaged_line_in_the_middle_is_reported_and_hides_nothing_else(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    ledger.append_one("a")
    with (tmp_path / "ledger" / "00000001.jsonl").open("ab") as f:
        f.write(b"garbage\n")
    ledger.append_one("b")
    damage: list[Damage] = []
    assert [r["seq"] for _, r in ledger.read(on_damage=damage.append)] == [1, 2]
    assert [(d.line, d.length, d.reason) for d in damage] == [(2, 8, "not JSON")]
    with pytest.raises(LedgerDamagedError, match=r"00000001\.jsonl:2 \(byte \d+\): damaged record \(not JSON\)"):
        _seqs(ledger)


def test_read_resumes_from_a_position(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    ledger.append([{"type": "a"}, {"type": "b"}])
    position, _ = next(iter(ledger.read()))
    ledger.append_one("c")
    assert [r["type"] for _, r in ledger.read(position)] == ["b", "c"]
    assert list(ledger.read(ledger.end())) == []


def test_segments_rotate_and_seq_carries_over(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, segment_limit=300)
    for i in range(20):
        ledger.append_one("tick", i=i)
    assert len(ledger.segments()) > 3
    assert _seqs(_ledger(tmp_path)) == list(range(1, 21))
    _ledger(tmp_path, segment_limit=300).append_one("more")
    assert _seqs(ledger)[-1] == 21
    last = ledger.segments()[-1]
    assert ledger.end() == Position(last, (tmp_path / "ledger" / f"{last:08d}.jsonl").stat().st_size)


def test_large_records_are_read_back_whole(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    big = "x" * 300_000
    ledger.append_one("big", payload=big)
    assert _ledger(tmp_path).append_one("after")["seq"] == 2
    assert [r.get("payload") for _, r in ledger.read()] == [big, None]


def test_sync_is_idempotent_and_close_syncs(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path)
    ledger.sync()
    ledger.append_one("a")
    ledger.sync()
    ledger.sync()
    ledger.close()
    assert _seqs(_ledger(tmp_path)) == [1]


def test_concurrent_processes_get_unique_increasing_seqs(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from orchrecon.clock import SystemClock
        from orchrecon.store.ledger import Ledger
        ledger = Ledger(Path({str(tmp_path / "ledger")!r}), SystemClock(), segment_limit=20_000)
        for i in range(150):
            ledger.append([{{"type": "w", "writer": sys.argv[1], "i": i}}, {{"type": "w2"}}])
        ledger.close()
        """
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(4)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0, 0]
    records = [r for _, r in Ledger(tmp_path / "ledger", SystemClock()).read()]
    assert [r["seq"] for r in records] == list(range(1, 1201))
    for n in range(4):
        mine = [r["i"] for r in records if r.get("writer") == str(n)]
        assert mine == list(range(150))
    pairs = [(a["type"], b["type"]) for a, b in zip(records[::2], records[1::2], strict=True)]
    assert set(pairs) == {("w", "w2")}  # a batch is never interleaved with another writer's
