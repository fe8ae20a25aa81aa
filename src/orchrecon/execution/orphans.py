"""Finding and killing the processes a dead orchrecon left running (Linux /proc)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def processes_of_run(run_id: str) -> list[int]:
    """Processes whose environment says they belong to `run_id`: task commands and their children."""
    marker = f"ORCHRECON_RUN_ID={run_id}".encode()
    found = []
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone, or not ours to read
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_run_processes(run_id: str, *, timeout: float = 5.0) -> int:
    """SIGKILL every process group holding a process of `run_id`; returns how many processes were found."""
    pids = processes_of_run(run_id)
    for pid in pids:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            continue
        except PermissionError:
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if _running(p)]
        if pids:
            time.sleep(0.01)
    return len(pids)


def _running(pid: int) -> bool:
    try:
        state = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie is dead; only its parent's wait is missing
