"""A task's log file: secrets redacted, size capped by dropping the oldest output."""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from orchrecon.errors import StorageError, storage_error
from orchrecon.executors.environment import Redactor

MIB = 1024 * 1024
DEFAULT_CAP = 10 * MIB
DEFAULT_KEEP = 8 * MIB
_MARKER_ROOM = 128  # the marker line is far shorter; the cap must leave room for it beside the tail
_MARKER = re.compile(rb"\[orchrecon\] log over \d+ bytes: (\d+) bytes of earlier output dropped\n")
_RECENT = 4096  # enough output to find the last non-empty line for an error message


class TaskLog:
    """Writes a task's output to `path` (parent folders created, an old file replaced) as it arrives: the file
    exists from the task's start and every chunk is written through at once, so `orchrecon logs --follow`
    shows lines while the task runs.

    The file never ends up longer than `cap` bytes: when it grows past it, only the last `keep` bytes of output
    stay, after one line saying how many bytes were dropped in all. Keeping `keep` well below `cap` makes the
    rewrite rare (once per `cap - keep` bytes of output), not once per chunk. The shorter file is written
    under a temporary name and renamed into place, so a reader sees the old file or the new one, never half.
    """

    def __init__(self, path: Path, redactor: Redactor, *, cap: int = DEFAULT_CAP, keep: int = DEFAULT_KEEP) -> None:
        if not 0 < keep <= cap - _MARKER_ROOM:
            raise ValueError(f"log keep ({keep}) must be positive and at least {_MARKER_ROOM} bytes below the cap")
        self._cap, self._keep = cap, keep
        self._redactor = redactor
        self._path = path
        self._closed = False
        self.fault: StorageError | None = None  # the log could not be written: the task fails with this
        self._file: BinaryIO | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w+b", buffering=0)
        except OSError as exc:  # the task fails with `fault`; the executor sees it before the task starts
            self._fail(exc)
        self._size = 0  # bytes in the file
        self._marker = 0  # length of the marker line at the start of the file, 0 while nothing was dropped
        self._dropped = 0
        self._recent = b""

    def __enter__(self) -> TaskLog:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def dropped(self) -> int:
        """Bytes of output dropped to respect the cap so far."""
        return self._dropped

    def feed(self, chunk: bytes) -> None:
        """Append a chunk of streamed output; a secret split across chunks is still redacted."""
        self._append(self._redactor.feed(chunk))

    def end_stream(self) -> None:
        """Write what the redactor held back at the end of the stream."""
        self._append(self._redactor.flush())

    def line(self, text: str) -> None:
        """Append one line of orchrecon's own (secrets redacted), on a line of its own after streamed output."""
        self.end_stream()
        start = b"\n" if self._recent and not self._recent.endswith(b"\n") else b""
        self._append(start + self._redactor.text(text).encode() + b"\n")

    def last_line(self) -> str | None:
        """The last non-empty line written so far, stripped, or None."""
        for line in reversed(self._recent.decode(errors="replace").splitlines()):
            if line.strip():
                return line.strip()
        return None

    def close(self) -> None:
        if not self._closed:
            self.end_stream()
            self._closed = True
            if self._file is not None:
                self._file.close()

    def _append(self, data: bytes) -> None:
        if not data or self._closed:
            # Closed: a reader still draining a killed task after the executor gave up on it.
            return
        assert self._file is not None  # open until closed
        try:
            _write_all(self._file, data)
            self._size += len(data)
            self._recent = (self._recent + data)[-_RECENT:]
            if self._size > self._cap:
                self._compact()
        except OSError as exc:  # called from the event loop's pipe callbacks: never raise there
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self.fault = storage_error("cannot write to", self._path, exc)
        self._closed = True
        if self._file is not None:
            self._file.close()

    def _compact(self) -> None:
        # The marker sits at the start and the tail is pure output, so it is all dropped on each compaction.
        assert self._file is not None
        self._file.seek(self._size - self._keep)
        tail = self._file.read(self._keep)
        self._dropped += self._size - self._marker - self._keep
        marker = marker_line(self._cap, self._dropped)
        temporary = self._path.with_name(f".{self._path.name}.tmp")
        replacement: BinaryIO = temporary.open("w+b", buffering=0)
        try:
            _write_all(replacement, marker + tail)
            temporary.replace(self._path)
        except BaseException:
            replacement.close()
            temporary.unlink(missing_ok=True)
            raise
        self._file.close()
        self._file = replacement
        self._marker, self._size = len(marker), len(marker) + len(tail)


def marker_line(cap: int, dropped: int) -> bytes:
    """The first line of a log whose earlier output was dropped to respect the cap."""
    return f"[orchrecon] log over {cap} bytes: {dropped} bytes of earlier output dropped\n".encode()


def parse_marker(head: bytes) -> tuple[int, int]:
    """(length of the marker line, bytes dropped) from the first bytes of a log; (0, 0) without a marker."""
    match = _MARKER.match(head)
    return (match.end(), int(match.group(1))) if match else (0, 0)


def _write_all(file: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = file.write(view)
        view = view[written or 0 :]
