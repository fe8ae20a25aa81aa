"""Two evaluators deciding the same slots never record one twice: the check and the append are atomic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger

EVALUATOR = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from orchrecon.clock import SystemClock
    from orchrecon.store.ledger import Ledger, Position
    from orchrecon.documents.model import Schedule
    from orchrecon.scheduling.slots import decide, decided_keys, schedule_key, slot_records, undecided

    ledger = Ledger(Path(sys.argv[1]), SystemClock())
    schedule = Schedule(cron="*/5 * * * *", timezone="Europe/Prague")
    key = schedule_key("daily", schedule)
    since, known = Position(), set()

    def records(seen):
        known.update(decided_keys(seen))  # what the other evaluators decided meanwhile
        return slot_records("daily", key, schedule, undecided("daily", decisions, known))

    for minute in range(0, 60, 5):
        now = datetime(2026, 3, 29, 0, minute, tzinfo=UTC)
        # Deliberately re-deciding the whole hour each time: only new slots may be recorded.
        decisions = decide(schedule, since=datetime(2026, 3, 28, 23, 59, tzinfo=UTC), now=now)
        written, since = ledger.append_guarded(since, records)
        known.update(decided_keys(written))
    ledger.close()
    """
)


def test_racing_evaluators_decide_each_slot_once(tmp_path: Path) -> None:
    directory = tmp_path / "ledger"
    evaluators = [subprocess.Popen([sys.executable, "-c", EVALUATOR, str(directory)]) for _ in range(4)]
    assert [e.wait(timeout=60) for e in evaluators] == [0, 0, 0, 0]
    records = [r for _, r in Ledger(directory, SystemClock()).read()]
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys)) == 12
    assert keys[0] == "daily@2026-03-29T00:00:00Z"
    assert {r["type"] for r in records} <= {"schedule.fired", "schedule.missed"}


def test_a_guarded_append_sees_what_others_appended(tmp_path: Path) -> None:
    ours, theirs = Ledger(tmp_path, SystemClock()), Ledger(tmp_path, SystemClock())
    _, since = ours.append_guarded(ours.end(), lambda seen: [{"type": "a"}])
    theirs.append_one("b")
    seen_then: list[str] = []

    def decide(seen: list[dict[str, object]]) -> list[dict[str, object]]:
        seen_then.extend(str(r["type"]) for r in seen)
        return []

    written, position = ours.append_guarded(since, decide)
    assert (seen_then, written) == (["b"], [])
    assert position == ours.end()
