"""Exclusive locks shared by processes: flock(2) on files under `locks/`.

The kernel drops a flock when its process dies, so a lock held by a crashed orchrecon never blocks
anyone. Two opens of the same file within one process also exclude each other, so the same rules
hold between runs of one process and between processes.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.02


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never waits."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def acquire(self, *, stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait for the lock without blocking the event loop; False if `stop()` became true first."""
        while not self.try_acquire():
            if stop():
                return False
            await asyncio.sleep(POLL_SECONDS)
        return True

    def release(self, *, remove: bool = False) -> None:
        if self._fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)  # while still held, so no one locks a file we delete
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def orchestration_lock(locks: Path, name: str) -> FileLock:
    return FileLock(locks / f"orchestration.{name}.lock")


def config_lock(locks: Path, ref: str) -> FileLock:
    component, name = ref.split("/", 1)
    return FileLock(locks / f"config.{component}.{name}.lock")  # '.' never occurs in names


def run_lock(locks: Path, run_id: str) -> FileLock:
    """Held by the process that owns a run from before it is requested until it is recorded finished."""
    return FileLock(locks / f"run.{run_id}.lock")
