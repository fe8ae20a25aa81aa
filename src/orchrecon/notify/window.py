"""The ledger's records of a recent window, read from the newest segment that starts before it, not
from the beginning: a restart looks at a day of records, not at years of them."""

from __future__ import annotations

import json
from datetime import datetime

from orchrecon.clock import parse_time
from orchrecon.store.ledger import Ledger, Position, Record, segment_name


def recent_records(ledger: Ledger, since: datetime) -> tuple[Position, list[Record], Position]:
    """Where the read began, every sound record from there (some older than `since`: a whole segment),
    and the position after the last one. Damaged lines are left out (recovery reports them)."""
    start = Position()
    for number in reversed(ledger.segments()):
        first = _first_time(ledger, number)
        if first is not None and first <= since:
            start = Position(number, 0)
            break
    end, records = start, []
    for end, record in ledger.read(start, on_damage=lambda _: None):  # noqa: B007 - the last position is kept
        records.append(record)
    return start, records, end


def _first_time(ledger: Ledger, number: int) -> datetime | None:
    try:
        with (ledger.directory / segment_name(number)).open("rb") as f:
            line = f.readline()
        return parse_time(json.loads(line)["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
