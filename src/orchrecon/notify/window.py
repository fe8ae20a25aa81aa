"""The ledger's records of a recent window, read from a position near its start, not from the beginning: a
restart looks at a day of records, not at years of them."""

from __future__ import annotations

from datetime import datetime

from orchrecon.store.ledger import Position, Record
from orchrecon.store.ports import LedgerPort


def recent_records(ledger: LedgerPort, since: datetime) -> tuple[Position, list[Record], Position]:
    """Where the read began, every sound record from there (some older than `since`: a whole segment),
    and the position after the last one. Damaged lines are left out (recovery reports them)."""
    start = ledger.since(since)
    end, records = start, []
    for end, record in ledger.read(start, on_damage=lambda _: None):  # noqa: B007 - the last position is kept
        records.append(record)
    return start, records, end
