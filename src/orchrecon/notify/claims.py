"""At most once: a delivery's key is claimed in the ledger (`notification.sending`) before it is sent, only if
no record with that key exists; the outcome (`notification.sent` or `notification.failed`) follows it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from orchrecon.store.ledger import Position, Record
from orchrecon.store.ports import LedgerPort

SENDING = "notification.sending"
SENT = "notification.sent"
FAILED = "notification.failed"
OUTCOMES = frozenset({SENT, FAILED})
KINDS = frozenset({SENDING, *OUTCOMES})
INTERRUPTED = "interrupted while sending; not sent again so that it is never sent twice"


class Claims:
    """The notification keys recorded since a position, followed as the ledger grows.

    `since` must come before any record with the keys asked about (the run's request, say): every record
    after it is looked at once, under the ledger's lock, when a key is claimed."""

    def __init__(
        self, ledger: LedgerPort, since: Position, *, known: Mapping[str, Collection[str]] | None = None
    ) -> None:
        self._ledger = ledger
        self._since = since
        self._kinds: dict[str, set[str]] = {k: set(v) for k, v in (known or {}).items()}  # key -> record types

    def claim(self, record: Mapping[str, Any]) -> bool:
        """Append `record` (a claim, or a failure recorded without an attempt) unless its key has any record;
        True if it was appended."""
        return self._append_unless(record, KINDS)

    def interrupted(self, record: Mapping[str, Any]) -> bool:
        """Append `record` (a failure) unless the key already has an outcome; True if appended."""
        return self._append_unless(record, OUTCOMES)

    def _append_unless(self, record: Mapping[str, Any], kinds: Collection[str]) -> bool:
        key = str(record["key"])

        def decide(seen: list[Record]) -> list[Mapping[str, Any]]:
            self.learn(seen)
            return [] if self._kinds.get(key, set()) & set(kinds) else [record]

        written, self._since = self._ledger.append_guarded(self._since, decide)
        self.learn(written)
        return bool(written)

    def catch_up(self) -> None:
        """Learn the records appended since the last look without the ledger's lock (they never change),
        so that the next claim reads only what comes after, under it. Damaged lines are passed over here;
        the claim's own read reports them."""
        for position, record in self._ledger.read(self._since, on_damage=lambda _: None):
            self.learn([record])
            self._since = position

    def learn(self, records: Collection[Record]) -> None:
        for r in records:
            if r.get("type") in KINDS and isinstance(r.get("key"), str):
                self._kinds.setdefault(r["key"], set()).add(r["type"])

    def has(self, key: str) -> bool:
        return bool(self._kinds.get(key))
