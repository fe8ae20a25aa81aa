"""The run ledger: append-only JSONL segments shared by every process using the state directory.

Each append takes an exclusive file lock, assigns the next `seq`, and writes its records as whole
lines in one `write`: once `append` returns, the records survive a crash of this process. Power loss
is covered by `sync()`, which fsyncs everything written so far; callers sync at the points where
something depends on a record (a run reported requested, an API answer, process exit), so one fsync
commits a whole group of records, as a database's group commit does. A line torn by a crash (the
last line of the last segment, without its newline) is ignored by readers and cut off by the next
append. Any other bad line is damage (see `records`): readers report it, never skip it silently. An
append the file system refuses (full, file too large, read-only) raises `StorageError` naming the
segment, and leaves nothing of itself behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from orchrecon.clock import Clock, format_time, parse_time
from orchrecon.errors import shown, storage_error, writing
from orchrecon.store.records import Damage, LedgerDamagedError, Record, decode, encode, segment_name

__all__ = ["VERSION", "Ledger", "Position", "Record", "encode", "fsync_folder", "segment_name"]

VERSION = 1
SEGMENT_LIMIT = 64 * 1024 * 1024
_SEGMENT = re.compile(r"(\d{8})\.jsonl")
_TAIL_CHUNK = 64 * 1024
_COUNT_CHUNK = 1024 * 1024


@dataclass(frozen=True, order=True)
class Position:
    """Just after a record: the segment number and byte offset to continue reading from."""

    segment: int = 0
    offset: int = 0


class Ledger:
    def __init__(self, directory: Path, clock: Clock, *, segment_limit: int = SEGMENT_LIMIT) -> None:
        self._dir = directory
        self._clock = clock
        self._segment_limit = segment_limit
        self._mutex = threading.Lock()  # appends from threads of one process, on top of the file lock
        self._sync_mutex = threading.Lock()
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._segment = 0
        self._known_size = -1  # the size we last saw; if the file differs, another process appended
        self._last_seq = 0
        self._unsynced: list[int] = []  # descriptors of rotated-out segments still to fsync
        self._dirty = False
        self.last_position = Position()  # just after the last record this instance appended

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def shown(self) -> str:
        return shown(self._dir)

    # -- writing -----------------------------------------------------------------------------------

    def append(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        """Append `records` (each with a `type`) in order with consecutive seqs; returns them complete."""
        return self.append_at(records)[0] if records else []

    def append_at(self, records: Sequence[Mapping[str, Any]]) -> tuple[list[Record], Position]:
        """`append`, with the position just after the records: `last_position` read afterwards may
        already be another thread's."""
        with self._mutex:
            lock = self._lock_descriptor()
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return self._append_locked(records), self.last_position
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _append_locked(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        """Raises `StorageError` naming the segment when it cannot be written; nothing is appended then."""
        try:
            fd, size = self._current_segment()
            self._catch_up(fd, size)
        except OSError as exc:
            raise storage_error("cannot append to", self._dir / segment_name(self._segment), exc) from None
        time = format_time(self._clock.now())
        written: list[Record] = []
        before = self._last_seq
        for record in records:
            self._last_seq += 1
            written.append({"v": VERSION, "seq": self._last_seq, "time": time, **record})
        data = b"".join(encode(r) for r in written)
        try:
            self._write_all(fd, data, self._known_size)
        except OSError as exc:
            self._last_seq = before  # not written: the next append reuses these seqs
            raise storage_error("cannot append to", self._dir / segment_name(self._segment), exc) from None
        self._known_size += len(data)
        self._dirty = True
        self.last_position = Position(self._segment, self._known_size)
        return written

    def append_guarded(
        self, since: Position, decide: Callable[[list[Record]], Sequence[Mapping[str, Any]]]
    ) -> tuple[list[Record], Position]:
        """Append what `decide` returns after seeing every record appended since `since`, atomically:
        no other process can append in between. Returns the records appended and the position after
        them, to pass as `since` next time. This is how a decision is never taken twice, even by two
        evaluators racing (the idempotency key of a schedule slot, say, is checked against `seen`)."""
        with self._mutex:
            lock = self._lock_descriptor()
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                seen = [record for _, record in self.read(since)]
                records = decide(seen)
                written = self._append_locked(records) if records else []
                return written, self.end() if not written else self.last_position
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def exclusive(self) -> Iterator[Callable[[Sequence[Mapping[str, Any]]], list[Record]]]:
        """Hold the append lock, so no other process or thread appends meanwhile; yields the `append` to
        use while it is held. `ledger repair` rewrites segments under it."""
        with self._mutex:
            lock = self._lock_descriptor()
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self._append_locked
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append_one(self, type_: str, **fields: Any) -> Record:
        return self.append([{"type": type_, **fields}])[0]

    async def append_async(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        return self.append(records)  # a write to the page cache: never worth a thread

    def sync(self) -> None:
        """Make every record appended so far by this process survive power loss."""
        with self._sync_mutex:
            if not self._dirty:
                return
            self._dirty = False  # an append during the fsync sets it again, and the next sync covers it
            with self._mutex:
                pending, self._unsynced = self._unsynced, []
                current = self._fd
            with writing("cannot sync", self._dir):
                for fd in pending:
                    os.fsync(fd)
                    os.close(fd)
            if current is not None:
                with writing("cannot sync", self._dir / segment_name(self._segment)):
                    os.fsync(current)

    async def sync_async(self) -> None:
        """`sync()` off the event loop; concurrent callers share one fsync."""
        import asyncio  # noqa: PLC0415 - commands that never run a task do not import it

        await asyncio.to_thread(self.sync)

    def watch(self, wake: Callable[[], None]) -> Callable[[], None] | None:
        """None: nothing tells of another process's appends to a file cheaply and surely; readers look instead."""
        return None

    def close(self) -> None:
        self.sync()
        with self._mutex:
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._lock_fd = None

    def _lock_descriptor(self) -> int:
        if self._lock_fd is None:
            with writing("cannot open", self._dir / ".lock"):
                self._dir.mkdir(parents=True, exist_ok=True)
                self._lock_fd = os.open(self._dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        return self._lock_fd

    def _current_segment(self) -> tuple[int, int]:
        """The descriptor and size of the newest segment, rotating when it is full (under the lock)."""
        if self._fd is None:
            numbers = self.segments()
            self._switch_to(numbers[-1] if numbers else 1)
        assert self._fd is not None
        stat = os.fstat(self._fd)
        if stat.st_nlink == 0:  # `ledger repair` replaced the segment: append to the new file
            self._switch_to(self._segment)
            stat = os.fstat(self._fd)
        size = stat.st_size
        # Only a full segment is ever rotated, so while ours is not full it is the newest one, and a
        # directory listing stays off the common path.
        if size >= self._segment_limit:
            numbers = self.segments()
            if numbers[-1] > self._segment:
                self._switch_to(numbers[-1])  # another process rotated already
            assert self._fd is not None
            size = os.fstat(self._fd).st_size
            if size >= self._segment_limit:
                self._switch_to(self._segment + 1)
                fsync_folder(self._dir)
                size = 0
        assert self._fd is not None
        return self._fd, size

    def _switch_to(self, number: int) -> None:
        path = self._dir / segment_name(number)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise storage_error("cannot append to", path, exc) from None
        if self._fd is not None:
            self._unsynced.append(self._fd)
        self._fd = fd
        self._segment = number
        self._known_size = -1

    def _catch_up(self, fd: int, size: int) -> None:
        """Learn the last seq if another process appended, and cut off a torn last line."""
        if size == self._known_size:
            return
        path = self._dir / segment_name(self._segment)
        end = _complete_end(path, size)
        if end < size:
            os.ftruncate(fd, end)
            size = end
        self._known_size = size
        last = _last_record(path, size) if size else None
        if last is None and self._segment > 1:
            previous = self._dir / segment_name(self._segment - 1)
            last = _last_record(previous, previous.stat().st_size)
        self._last_seq = last["seq"] if last else 0

    @staticmethod
    def _write_all(fd: int, data: bytes, start: int) -> None:
        """Append `data` to a file of size `start` (O_APPEND), all of it or none of it."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            os.ftruncate(fd, start)  # never leave half a record behind (disk full)
            raise

    # -- reading -----------------------------------------------------------------------------------

    def segments(self) -> list[int]:
        try:
            names = os.listdir(self._dir)  # noqa: PTH208 - no Path object per entry on every append
        except FileNotFoundError:
            return []
        return sorted(int(m.group(1)) for n in names if (m := _SEGMENT.fullmatch(n)))

    def read(
        self,
        start: Position | None = None,
        *,
        after_seq: int | None = None,
        on_damage: Callable[[Damage], None] | None = None,
    ) -> Iterator[tuple[Position, Record]]:
        """Every complete record after `start`, in order, with the position just after it.

        A torn last line (a crash mid-append, or an append in progress elsewhere) is not yielded; a
        later read from the same position sees it once it is whole. A damaged line (see `records`;
        its `seq` must be above `after_seq` and the records before it) is passed to `on_damage`, in
        order with the records; without `on_damage` it raises LedgerDamagedError.
        """
        start = start or Position()
        previous = after_seq
        numbers = self.segments()
        for number in numbers:
            if number < start.segment:
                continue
            path = self._dir / segment_name(number)
            try:
                f = path.open("rb")
            except FileNotFoundError:
                continue
            with f:
                offset = start.offset if number == start.segment else 0
                f.seek(offset)
                first, read, before = offset, 0, -1  # lines before `first`: counted once a damaged line needs them
                for line in f:
                    here, offset, read = offset, offset + len(line), read + 1
                    if not line.endswith(b"\n"):
                        if number == numbers[-1]:
                            break  # torn, or being appended right now
                        record: Record | str = "no newline at the end of a segment that is not the last"
                    else:
                        record = decode(line)
                    if isinstance(record, dict):
                        seq = record["seq"]
                        if previous is None or seq > previous:
                            previous = seq
                            yield Position(number, offset), record
                            continue
                        record = f"seq {seq} after seq {previous}, not increasing"
                    before = _lines_before(path, first) if before < 0 else before
                    damage = Damage(segment=number, line=before + read, offset=here, length=len(line), reason=record)
                    if on_damage is None:
                        raise LedgerDamagedError([damage], self._dir)
                    on_damage(damage)

    def end(self) -> Position:
        """The position after the last complete record."""
        numbers = self.segments()
        if not numbers:
            return Position()
        path = self._dir / segment_name(numbers[-1])
        return Position(numbers[-1], _complete_end(path, path.stat().st_size))

    def since(self, time: datetime) -> Position:
        """The start of the newest segment whose first record is no newer than `time` (else the beginning)."""
        for number in reversed(self.segments()):
            first = self._first_time(number)
            if first is not None and first <= time:
                return Position(number, 0)
        return Position()

    def _first_time(self, number: int) -> datetime | None:
        try:
            with (self._dir / segment_name(number)).open("rb") as f:
                line = f.readline()
            return parse_time(json.loads(line)["time"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def mark(self) -> tuple[int, ...] | None:
        """Where the ledger ends, cheaply (one listdir, one stat); None when it cannot be told."""
        numbers = self.segments()
        if not numbers:
            return (0,)
        try:
            found = (self._dir / segment_name(numbers[-1])).stat()
        except OSError:
            return None
        return (len(numbers), numbers[-1], found.st_ino, found.st_size, found.st_mtime_ns)

    def lines(self, spans: Sequence[tuple[int, int, int]]) -> list[bytes] | None:
        """The bytes at each (segment, start, end); None when a segment is gone."""
        handles: dict[int, BinaryIO] = {}
        found = []
        try:
            for segment, start, end in spans:
                if segment not in handles:
                    handles[segment] = (self._dir / segment_name(segment)).open("rb")
                f = handles[segment]
                f.seek(start)
                found.append(f.read(end - start))
        except FileNotFoundError:
            return None
        finally:
            for f in handles.values():
                f.close()
        return found


def _complete_end(path: Path, size: int) -> int:
    """The offset just after the last newline in the first `size` bytes."""
    with path.open("rb") as f:
        return _after_last_newline(f, size)


def _last_record(path: Path, end: int) -> Record | None:
    """The last sound record ending at or before `end` (complete lines only). Damaged lines after it
    are passed over here: every command that opens the ledger reports them, and a process already
    running (a run recording its tasks) goes on recording what is true."""
    with path.open("rb") as f:
        pos = end
        while pos > 0:
            line_start = _after_last_newline(f, pos - 1)  # the start of the line ending at pos
            f.seek(line_start)
            record = decode(f.read(pos - line_start))
            if isinstance(record, dict):
                return record
            pos = line_start
    return None


def _lines_before(path: Path, offset: int) -> int:
    """How many lines the segment has before `offset` (for a damaged line's number: off the common path)."""
    count = 0
    with path.open("rb") as f:
        remaining = offset
        while remaining > 0 and (chunk := f.read(min(remaining, _COUNT_CHUNK))):
            count += chunk.count(b"\n")
            remaining -= len(chunk)
    return count


def _after_last_newline(f: BinaryIO, before: int) -> int:
    """The offset just after the last newline before offset `before`; 0 if there is none."""
    pos = before
    while pos > 0:
        start = max(0, pos - _TAIL_CHUNK)
        f.seek(start)
        chunk = f.read(pos - start)
        index = chunk.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        pos = start
    return 0


def fsync_folder(folder: Path) -> None:
    """Make the names in `folder` durable (a new segment, a rename), as fsync does a file's bytes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
