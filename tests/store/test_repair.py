"""`ledger repair` under the append lock: appenders in other processes lose nothing while it rewrites
the segment they append to; a torn segment end that is not the last is damage too."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from orchrecon.store.records import Damage
from orchrecon.store.repair import repair, scan
from tests.clocks import FakeClock
from tests.execution.builders import wait_until

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from orchrecon.clock import SystemClock
    from orchrecon.store.ledger import Ledger
    ledger = Ledger(Path(sys.argv[1]), SystemClock())
    for i in range(300):
        ledger.append([{"type": "w", "writer": sys.argv[2], "i": i}])
    ledger.close()
    """
)


def test_repair_while_other_processes_append_loses_no_record(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger", SystemClock())
    ledger.append([{"type": "a"}, {"type": "b"}])
    with (tmp_path / "ledger" / "00000001.jsonl").open("ab") as f:
        f.write(b"\0" * 40 + b"\n")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "ledger"), str(n)]) for n in range(3)]
    wait_until(lambda: sum(1 for _ in ledger.read(on_damage=lambda _: None)) > 20, timeout=30, what="appends")
    repaired = repair(ledger, now=SystemClock().now())
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0]
    assert repaired is not None
    assert [(d.line, d.length) for d in repaired.damage] == [(3, 41)]
    assert repaired.data.read_bytes() == b"\0" * 40 + b"\n"
    found = scan(Ledger(tmp_path / "ledger", SystemClock()))
    assert found.damage == []
    records = [r for _, r in ledger.read()]
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(set(seqs))
    for n in range(3):
        assert [r["i"] for r in records if r.get("writer") == str(n)] == list(range(300))
    assert [r["type"] for r in records].count("ledger.repaired") == 1


def test_a_segment_that_is_not_the_last_must_end_with_a_newline(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger", FakeClock(), segment_limit=300)
    for i in range(6):
        ledger.append_one("tick", i=i)
    first = tmp_path / "ledger" / "00000001.jsonl"
    assert len(ledger.segments()) > 1
    whole = first.read_bytes()
    first.write_bytes(whole[:-10])  # its last line torn, with segments after it
    damage: list[Damage] = []
    records = [r["i"] for _, r in ledger.read(on_damage=damage.append)]
    assert [(d.segment, d.line, d.length, d.reason) for d in damage] == [
        (
            1,
            whole.count(b"\n"),
            len(whole.splitlines()[-1]) - 9,
            "no newline at the end of a segment that is not the last",
        )
    ]
    assert len(records) == 5
    repaired = repair(ledger, now=FakeClock().now())
    assert repaired is not None
    assert scan(ledger).damage == []
    assert first.read_bytes() == b"".join(whole.splitlines(keepends=True)[:-1])
