"""Exclusive locks shared by processes: flock(2) on files under `locks/`.

The kernel drops a flock when its process dies, so a lock held by a crashed orchrecon never blocks
anyone. Two opens of the same file within one process also exclude each other, so the same rules
hold between runs of one process and between processes.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchrecon.errors import writing

if TYPE_CHECKING:
    from orchrecon.store.ports import Lock

POLL_SECONDS = 0.02


class FileLock:
    """An exclusive lock on `path`. Held at most once at a time, also within this process.

    With `keep_open`, the file stays open between holds, so taking it again costs one flock(2), not an
    open(2) (creating a file costs ~0.1 ms here). A `holder` given when taking it is written into the file
    while it is held, so those waiting for it can say who has it (`holder_of`).
    """

    def __init__(self, path: Path, *, keep_open: bool = False) -> None:
        self.path = path
        self._keep_open = keep_open
        self._fd: int | None = None
        self._held = False
        self._described = False  # a holder is written in the file

    @property
    def held(self) -> bool:
        return self._held

    def try_acquire(self, holder: Mapping[str, Any] | None = None) -> bool:
        """Take the lock if it is free; never waits. Raises `StorageError` when the file cannot be opened."""
        if self._held:
            return False  # a flock on a descriptor we already lock would succeed: refuse it here
        if self._fd is None:
            with writing("cannot open", self.path):  # a full, read-only or immutable locks/ folder
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self._keep_open:
                self._close()
            return False
        self._held = True
        if holder is not None:
            data = json.dumps(dict(holder)).encode()
            os.pwrite(self._fd, data, 0)
            os.ftruncate(self._fd, len(data))  # whatever a killed holder left is gone
            self._described = True
        return True

    async def acquire(
        self,
        *,
        stop: Callable[[], bool] = lambda: False,
        holder: Mapping[str, Any] | None = None,
        busy: Callable[[], None] | None = None,
    ) -> bool:
        """Wait for the lock without blocking the event loop; False if `stop()` became true first.
        `busy` is called after each attempt that found the lock taken."""
        return await acquire_polling(lambda: self.try_acquire(holder), stop=stop, busy=busy)

    def release(self, *, remove: bool = False) -> None:
        if not self._held:
            return
        assert self._fd is not None
        if remove:
            self.path.unlink(missing_ok=True)  # while still held, so no one locks a file we delete
        elif self._described:
            os.ftruncate(self._fd, 0)  # the next holder is not mistaken for this one
        self._described = False
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._held = False
        if remove or not self._keep_open:
            self._close()

    def lost(self) -> bool:
        """Never: the kernel keeps a flock for as long as the process lives."""
        return False

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def acquire_polling(
    try_acquire: Callable[[], bool | Awaitable[bool]], *, stop: Callable[[], bool], busy: Callable[[], None] | None
) -> bool:
    """Call `try_acquire` (awaiting what it returns, if it must be) every POLL_SECONDS until it succeeds (True) or
    `stop()` is true (False), calling `busy` after each attempt that found the lock taken."""
    import asyncio  # noqa: PLC0415 - only a waiting runner needs it; the commands that read never import it

    while not await _answer(try_acquire()):
        if stop():
            return False
        if busy is not None:
            busy()
        await asyncio.sleep(POLL_SECONDS)
    return True


async def _answer(taken: bool | Awaitable[bool]) -> bool:
    return taken if isinstance(taken, bool) else await taken


def holder_of(path: Path) -> dict[str, Any] | None:
    """Who holds the lock at `path`, as its holder described itself; None if free, unknown or unreadable.
    It may be stale by the time it is read: it says who had the lock a moment ago."""
    try:
        text = path.read_bytes()
    except OSError:
        return None
    try:
        holder = json.loads(text) if text else None
    except ValueError:
        return None  # read while being written
    return holder if isinstance(holder, dict) else None


def orchestration_lock(locks: Path, name: str) -> FileLock:
    return FileLock(locks / f"orchestration.{name}.lock")


def config_lock(locks: Path, ref: str, *, keep_open: bool = False) -> FileLock:
    component, name = ref.split("/", 1)
    return FileLock(locks / f"config.{component}.{name}.lock", keep_open=keep_open)  # names have no '.'


def reconciler_lock(locks: Path) -> FileLock:
    """Held by the state directory's one reconciler (and by `ledger repair`, which moves lines it reads)."""
    return FileLock(locks / "reconciler.lock")


def run_lock(locks: Path, run_id: str) -> FileLock:
    """Held by the process that owns a run from before it is requested until it is recorded finished."""
    return FileLock(locks / f"run.{run_id}.lock")


class FileLocks:
    """The state directory's locks: files under `locks/`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def orchestration(self, name: str) -> FileLock:
        return orchestration_lock(self.folder, name)

    def config(self, ref: str, *, keep_open: bool = False) -> FileLock:
        return config_lock(self.folder, ref, keep_open=keep_open)

    def reconciler(self) -> FileLock:
        return reconciler_lock(self.folder)

    def run(self, run_id: str) -> FileLock:
        return run_lock(self.folder, run_id)

    def holder(self, lock: Lock) -> dict[str, Any] | None:
        return holder_of(lock.path)

    def close(self) -> None:
        """Nothing to do: each lock closes its own file when released."""
