"""JSON files under `secrets/`: owner-only, written whole and atomically under a lock, read without one.

A writer takes an exclusive `flock` on `<name>.lock`, reads the current file, writes `<name>.tmp` (mode
0600), fsyncs it and renames it over the file, so a reader (which takes no lock) sees the old file or the
new one, never a part; a crash or a full disk leaves the old file as it was.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchrecon.errors import StorageError, shown, storage_error, writing


@contextmanager
def locked(file: Path) -> Iterator[None]:
    """Hold the exclusive lock of `file` (creating its folder, mode 0700, if need be)."""
    lock = file.with_suffix(".lock")
    with writing("cannot open", lock):
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        with writing("cannot lock", lock):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read(file: Path) -> Any | None:
    """The parsed content of `file`; None when it does not exist.

    Raises StorageError naming the file when it cannot be read or is not JSON (it is left as it is)."""
    try:
        text = file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise storage_error("cannot read", file, exc) from None
    try:
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f"line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        raise damaged(file, f"invalid JSON ({where})") from None


def damaged(file: Path, what: str) -> StorageError:
    """The error for a secrets file whose content is not what it should be."""
    return StorageError("cannot read", str(file), f"damaged: {what}; it is left as it is", shown=shown(file))


def save(file: Path, data: Any) -> None:
    """Replace `file` with `data` as JSON (mode 0600), durably. Call it holding `locked(file)`."""
    temporary = file.with_suffix(".tmp")
    with writing("cannot write", file):  # the old file stays as it was
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)  # a left-over temporary file keeps its mode through O_CREAT
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        temporary.replace(file)
        folder = os.open(file.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)


class Snapshot:
    """`file` parsed, read again only when it changed (a new inode, size or modification time), so that
    a check per request costs one `stat`. Writers replace the file by rename, hence a new inode."""

    def __init__(self, file: Path) -> None:
        self._file = file
        self._seen: tuple[int, int, int] | None = None
        self._data: Any | None = None

    def get(self) -> Any | None:
        try:
            stat = self._file.stat()
        except FileNotFoundError:
            self._seen = self._data = None
            return None
        except OSError as exc:
            raise storage_error("cannot read", self._file, exc) from None
        key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if key != self._seen:
            self._data, self._seen = read(self._file), key
        return self._data

    def forget(self) -> None:
        """Read the file again next time (this process just replaced it)."""
        self._seen = None
