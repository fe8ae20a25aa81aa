"""Reading a task log while it grows, across the compactions that keep it under its cap (`logs --follow`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from orchrecon.executors.tasklog import parse_marker

_HEAD = 256  # enough to hold the marker line


class LogTail:
    """Hands out the bytes appended to a task log since the last `read`, like `tail -F`.

    A compaction replaces the file by a shorter one (a marker line, then the tail of the output) under the
    same name. The tail first reads the replaced file to its end (nobody writes to it any more), then goes on
    in the new one where its output continues, found through the markers' counts of dropped bytes; output
    dropped before it could be read is announced in one line instead.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: BinaryIO | None = None
        self._inode = 0
        self._marker = 0  # length of the open file's marker line
        self._dropped = 0  # output bytes dropped before the open file's first byte after the marker
        self._seen: int | None = None  # output bytes read so far (marker lines not counted); None: never opened

    def read(self) -> bytes:
        """What was appended since the last call; b"" while the file does not exist or nothing is new."""
        chunks: list[bytes] = []
        while True:
            if self._file is None and not self._open(chunks):
                break
            assert self._file is not None
            chunks.append(self._file.read())
            if self._current():
                break
            chunks.append(self._file.read())  # written before the rename; nothing is written to it after
            self._seen = self._dropped + max(0, self._file.tell() - self._marker)
            self._file.close()
            self._file = None
        return b"".join(chunks)

    def __enter__(self) -> LogTail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self, chunks: list[bytes]) -> bool:
        try:
            file: BinaryIO = self._path.open("rb")
        except FileNotFoundError:
            return False
        self._inode = os.fstat(file.fileno()).st_ino
        self._marker, self._dropped = parse_marker(file.read(_HEAD))
        if self._seen is None:
            file.seek(0)  # the first look shows the marker too: people should know output was dropped
        elif self._seen < self._dropped:
            lost = self._dropped - self._seen
            chunks.append(f"[orchrecon] {lost} bytes of output were dropped before they were shown\n".encode())
            file.seek(self._marker)
        else:
            file.seek(self._marker + self._seen - self._dropped)
        self._seen = self._seen or 0
        self._file = file
        return True

    def _current(self) -> bool:
        """Whether the open file is still the one under the log's name."""
        try:
            return self._path.stat().st_ino == self._inode
        except FileNotFoundError:
            return True  # removed (its run's logs deleted): nothing new will come under the name
