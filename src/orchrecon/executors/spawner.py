"""One process per Dask worker that starts the worker's commands and kills them all when the worker dies.

Setting PR_SET_PDEATHSIG on each command needs Python code between fork and exec (`preexec_fn`), which makes
subprocess fork the whole worker instead of vfork: 10-20 ms per task on a busy worker. Instead the worker
starts this process once (it alone gets PR_SET_PDEATHSIG), and asks it for each command over a Unix socket
pair. The spawner starts the command in its own session, with the worker's end of an output pipe as its
stdout, and tells the worker its pid and, later, its exit status. When the socket closes, the worker is gone
(killed or not), and the spawner kills every process group it started that is still alive, then exits: a
worker's commands never outlive it, including what they started in their groups.

Run as `python -m orchrecon.executors.spawner FD` by `remote.py`; stdlib only, so it starts fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

MAX_MESSAGE = 4 * 1024 * 1024  # a request carries the command's environment and parameters
_PR_SET_PDEATHSIG = 1


def main(fd: int) -> None:
    # The worker's end of the socket closes when it dies, which ends the loop below; SIGTERM when the thread
    # that started us ends is a second way to learn it. Either way the groups are killed on the way out.
    signal.signal(signal.SIGTERM, _leave)
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the worker died before the prctl took effect
        return
    channel = socket.socket(fileno=fd)
    sending = threading.Lock()
    groups: set[int] = set()
    lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with sending:
            channel.sendall(frame(message))

    def wait(child: subprocess.Popen[bytes], ref: int) -> None:
        returncode = child.wait()
        with lock:
            groups.discard(child.pid)
        with contextlib.suppress(OSError):
            send({"ref": ref, "exited": returncode})

    try:
        for message, fds in _messages(channel):
            (out,) = fds
            try:
                child = subprocess.Popen(  # vfork: nothing runs here between fork and exec
                    message["argv"],
                    cwd=message["cwd"],
                    env={**os.environ, **message["env"]},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,
                )
            except OSError as exc:
                send({"ref": message["ref"], "error": exc.strerror or str(exc)})
                continue
            finally:
                os.close(out)
            with lock:
                groups.add(child.pid)
            send({"ref": message["ref"], "pid": child.pid})
            threading.Thread(target=wait, args=(child, message["ref"]), daemon=True).start()
    finally:
        # The worker is gone (or closed us): nothing it started may go on.
        with lock:
            for pgid in groups:
                with contextlib.suppress(OSError):
                    os.killpg(pgid, signal.SIGKILL)


def _leave(signum: int, frame: object) -> None:
    raise SystemExit(0)


def frame(message: dict[str, Any]) -> bytes:
    """A message as both ends send it: its length (4 bytes, big-endian), then its JSON."""
    data = json.dumps(message).encode()
    return len(data).to_bytes(4, "big") + data


def _messages(channel: socket.socket) -> Any:
    """Requests, each with the file descriptors sent with its first byte, until the other end closes."""
    while True:
        header, fds, _, _ = socket.recv_fds(channel, 4, 1)
        if not header:
            return
        while len(header) < 4:
            more = channel.recv(4 - len(header))
            if not more:
                return
            header += more
        size = int.from_bytes(header, "big")
        if size > MAX_MESSAGE:
            return
        data = b""
        while len(data) < size:
            more = channel.recv(size - len(data))
            if not more:
                return
            data += more
        yield json.loads(data), fds


if __name__ == "__main__":
    main(int(sys.argv[1]))
