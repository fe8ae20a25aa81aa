"""A run's end that its process could not record, kept beside the run until the ledger takes it.

When the ledger refuses a run's records (disk full, file too large, read-only), its process still has
to say why the run stopped. It writes the `run.finished` fields it could not append into the run's
lock file (`locks/run.ID.lock`), which it holds and which stays behind when the process exits; the
next command's recovery appends them as the run's end. Room for the note is written when the run is
requested, so overwriting it later needs no new disk block, even on a full file system. Only a file
size limit (`ulimit -f`) below the note's length (about 150 bytes) leaves no way to write it: then
recovery records what it knows, that the run's process ended while the run was processing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from orchrecon.errors import writing

ROOM = 1024  # bytes reserved; a note names one file and one cause


def reserve(lock: Path) -> None:
    """Write the room for a note into the (existing) lock file; raises `StorageError` when it cannot."""
    with writing("cannot write", lock):
        fd = os.open(lock, os.O_WRONLY)
        try:
            os.pwrite(fd, b" " * ROOM, 0)
        finally:
            os.close(fd)


def leave(lock: Path, fields: dict[str, Any]) -> bool:
    """Overwrite the room with `fields`; False when even that failed (the run then ends unexplained)."""
    data = json.dumps(fields).encode()
    try:
        fd = os.open(lock, os.O_WRONLY)
        try:
            if os.pwrite(fd, data, 0) != len(data):
                return False
            os.ftruncate(fd, len(data))  # shrinking needs no room; the rest of the reserve goes
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def read(lock: Path) -> dict[str, Any] | None:
    """The note left in `lock`, or None when there is none (or it cannot be read)."""
    try:
        text = lock.read_bytes().strip()
        note = json.loads(text) if text else None
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) and isinstance(note.get("status"), str) else None
