"""The store's ports: what the rest of orchrecon asks of a ledger and of locks, whichever backend holds them.

Two backends implement them: the state directory (`ledger.Ledger`, JSONL segments; `locks.FileLocks`, flock) and
the PostgreSQL state database (`postgresql.backend`: a table, advisory locks). A `Position` is opaque to callers:
they take it from one call (`end`, `append_at`, `read`) and hand it back to another. For the state directory it is
a segment and a byte offset; for a table, segment 0 and the seq.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from orchrecon.errors import StorageError
from orchrecon.store.ledger import Position
from orchrecon.store.records import Damage, Record

Decide = Callable[[list[Record]], Sequence[Mapping[str, Any]]]
Span = tuple[int, int, int]  # (segment, start, end) of one record, as `read`'s positions give them


class UnavailableError(StorageError):
    """The shared backend (the state database) could not be reached or refused a statement. `retryable`: a
    reconciler waits and tries again, rather than exiting (a database restarting, a network cut)."""

    retryable = True


class NotLeaderError(StorageError):
    """An append the backend fenced, recording nothing: by a reconciler that is no longer the leader, or by a
    process whose locks are gone with its database session (others may have recorded its runs' ends). Only a
    backend shared by several machines raises it (the PostgreSQL state database)."""


class LedgerPort(Protocol):
    """The run ledger: records appended with consecutive seqs, read back in order. Appends that the backend
    refuses raise `StorageError` naming what refused them, and append nothing."""

    @property
    def shown(self) -> str:
        """Where the ledger is, for messages (never with a password)."""
        ...

    def append(self, records: Sequence[Mapping[str, Any]]) -> list[Record]: ...

    def append_at(self, records: Sequence[Mapping[str, Any]]) -> tuple[list[Record], Position]: ...

    def append_guarded(self, since: Position, decide: Decide) -> tuple[list[Record], Position]:
        """Append what `decide` makes of every record after `since`, with no append by anyone in between."""
        ...

    def append_one(self, type_: str, **fields: Any) -> Record: ...

    async def append_async(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        """`append` for the event loop: it goes on meanwhile, and appends made together may share a commit."""
        ...

    def sync(self) -> None:
        """Make what this process appended survive power loss (a database's commit did already)."""
        ...

    async def sync_async(self) -> None: ...

    def read(
        self,
        start: Position | None = None,
        *,
        after_seq: int | None = None,
        on_damage: Callable[[Damage], None] | None = None,
    ) -> Iterator[tuple[Position, Record]]: ...

    def end(self) -> Position: ...

    def since(self, time: datetime) -> Position:
        """A position before every record newer than `time`, near it (a restart reads a day, not years)."""
        ...

    def mark(self) -> tuple[int, ...] | None:
        """A cheap token that changes whenever a record is appended; None when it cannot be told."""
        ...

    def lines(self, spans: Sequence[Span]) -> list[bytes] | None:
        """The records at `spans` as ledger lines (with their checksums); None when one is no longer there."""
        ...

    def watch(self, wake: Callable[[], None]) -> Callable[[], None] | None:
        """Call `wake` (from another thread) soon after any process appends; returns what stops the watching, or
        None when this backend cannot tell (then readers look every so often)."""
        ...

    def close(self) -> None: ...


class Lock(Protocol):
    """An exclusive lock shared by every process using the store; a dead holder's lock is freed."""

    @property
    def path(self) -> Path:
        """A local file beside the lock: its holder's note (see `endnotes`) and, for flock, the lock itself."""
        ...

    @property
    def held(self) -> bool: ...

    def try_acquire(self, holder: Mapping[str, Any] | None = None) -> bool: ...

    async def acquire(
        self,
        *,
        stop: Callable[[], bool] = ...,
        holder: Mapping[str, Any] | None = None,
        busy: Callable[[], None] | None = None,
    ) -> bool: ...

    def release(self, *, remove: bool = False) -> None: ...

    def lost(self) -> bool:
        """Whether the lock was held and is no longer, though not released (its database session ended). May
        wait for the database: call it off the event loop."""
        ...


class LockSpace(Protocol):
    """The locks of one store, by what they guard."""

    def orchestration(self, name: str) -> Lock:
        """Held by the run of `name` that is executing."""
        ...

    def config(self, ref: str, *, keep_open: bool = False) -> Lock:
        """Held by the task running configuration `ref` (component/name)."""
        ...

    def reconciler(self) -> Lock:
        """Held by the one reconciler (and by `ledger repair`)."""
        ...

    def run(self, run_id: str) -> Lock:
        """Held by the process that owns a run, from before it is requested until it is recorded finished."""
        ...

    def holder(self, lock: Lock) -> dict[str, Any] | None:
        """Who holds `lock`, as its holder described itself; None if free or unknown."""
        ...

    def close(self) -> None:
        """Release every lock this process holds here."""
        ...
