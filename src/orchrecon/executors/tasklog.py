"""A task's log file: secrets redacted, size capped by dropping the oldest output."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from orchrecon.errors import StorageError, storage_error
from orchrecon.executors.environment import Redactor

MIB = 1024 * 1024
DEFAULT_CAP = 10 * MIB
DEFAULT_KEEP = 8 * MIB
_MARKER_ROOM = 128  # the marker line is far shorter; the cap must leave room for it beside the tail
_RECENT = 4096  # enough output to find the last non-empty line for an error message


class TaskLog:
    """Writes a task's output to `path` (parent folders created, an old file replaced), created on the first
    byte: a task that prints nothing and succeeds leaves no file (creating one costs more than running `true`).

    The file never ends up longer than `cap` bytes: when it grows past it, only the last `keep` bytes of output
    stay, after one line saying how many bytes were dropped in all. Keeping `keep` well below `cap` makes the
    rewrite rare (once per `cap - keep` bytes of output), not once per chunk.
    """

    def __init__(self, path: Path, redactor: Redactor, *, cap: int = DEFAULT_CAP, keep: int = DEFAULT_KEEP) -> None:
        if not 0 < keep <= cap - _MARKER_ROOM:
            raise ValueError(f"log keep ({keep}) must be positive and at least {_MARKER_ROOM} bytes below the cap")
        self._cap, self._keep = cap, keep
        self._redactor = redactor
        self._path = path
        self._file: BinaryIO | None = None
        self._closed = False
        self._size = 0  # bytes in the file
        self._marker = 0  # length of the marker line at the start of the file, 0 while nothing was dropped
        self._dropped = 0
        self._recent = b""
        self.fault: StorageError | None = None  # the log could not be written: the task fails with this

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
        try:
            if self._file is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self._path.open("w+b", buffering=0)
            _write(self._file, data)
            self._size += len(data)
            self._recent = (self._recent + data)[-_RECENT:]
            if self._size > self._cap:
                self._compact()
        except OSError as exc:  # called from the event loop's pipe callbacks: never raise there
            self.fault = storage_error("cannot write to", self._path, exc)
            self._closed = True
            if self._file is not None:
                self._file.close()

    def _compact(self) -> None:
        # The marker sits at the start and the tail is pure output, so it is all dropped on each compaction.
        assert self._file is not None
        self._file.flush()
        self._file.seek(self._size - self._keep)
        tail = self._file.read(self._keep)
        self._dropped += self._size - self._marker - self._keep
        marker = f"[orchrecon] log over {self._cap} bytes: {self._dropped} bytes of earlier output dropped\n".encode()
        self._file.seek(0)
        _write(self._file, marker + tail)
        self._file.truncate()
        self._marker, self._size = len(marker), len(marker) + len(tail)


def _write(f: BinaryIO, data: bytes) -> None:
    """All of `data`. The file is unbuffered, so a full disk shows here, not at close; a write may be short."""
    view = memoryview(data)
    while view:
        view = view[f.write(view) or 0 :]
