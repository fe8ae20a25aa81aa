"""The half of the Dask executor that runs on a worker: one task's command, as `CommandExecutor` runs it here.

The reconciler calls these functions on the worker directly (its `run` handler, one request each); they travel
by reference, so the worker needs orchrecon installed (`pip install 'orchrecon[dask]'`), not the repository:
the run's files arrive once per revision (`receive_tree`), as a compressed archive each worker unpacks under
its local directory. The command runs in its own session and process group, started by a spawner process
with PR_SET_PDEATHSIG, so that a worker that dies (even by SIGKILL) takes its command with it; the worker
enforces the task's timeout itself, so a task whose reconciler lost contact still ends in time. Output goes
back while the command runs, redacted here already, as events on `LOG_TOPIC`; what is left when it ends comes
back with the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchrecon.executors.command import INTERPRETER_DIR, signal_group
from orchrecon.executors.environment import Redactor
from orchrecon.executors.spawner import frame

LOG_TOPIC = "orchrecon-task-output"  # one topic: the scheduler keeps a bounded log per topic
FLUSH_SECONDS = 0.1  # output is sent at most this often per task, so a chatty task costs few messages
CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True)
class RemoteCommand:
    """What a worker needs to run one task. Its `env` holds the task's secrets, so its repr leaves them out:
    Dask writes a failed task's arguments into its logs."""

    key: str  # `<run>/<task>/<attempt>`: how cancel and the reconciler's questions name it
    argv: tuple[str, ...]
    cwd: str | None  # relative to the revision's files
    env: Mapping[str, str] = field(repr=False)  # added to the worker's environment
    secrets: tuple[str, ...] = field(repr=False)  # redacted from the output before it leaves the worker
    tree: str  # the key of the revision's files: the commit id, with a content hash when the tree was dirty
    timeout: float
    kill_grace: float
    resources: Mapping[str, float] = field(default_factory=dict)  # held while it runs, as a Dask task's


@dataclass
class _Process:
    stop: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    closing: bool = False  # stopped because its worker is closing, not by a cancel


_RUNNING: dict[str, _Process] = {}  # this worker's commands by task key, for `cancel` and `running`
_RUNNING_LOCK = threading.Lock()
_UNPACK_LOCK = threading.Lock()
_IN_USE: Counter[str] = Counter()  # trees with a task running in them, which pruning leaves alone
TREES_KEPT = 8  # revisions whose files a worker keeps unpacked


# Commands are watched from threads of orchrecon's own, not Dask's task threads: nothing here is a Dask task.
_THREADS = ThreadPoolExecutor(max_workers=256, thread_name_prefix="orchrecon-task")


ADMIT_POLL_SECONDS = 0.05  # how often a waiting task looks again: Dask's own tasks end without telling
_ADMITTED: Counter[str] = Counter()  # "tasks", and the resources, of the commands let in (all on the worker's loop)


async def run_remote(command: RemoteCommand, dask_worker: Any) -> dict[str, Any]:
    """Run the command to its end on this worker (see `run_command`), watched from a thread of its own, once
    the worker has a thread and the command's resources free: orchrecon's tasks of every reconciler and
    Dask's own tasks share them. A cancel while it waits ends it before it starts."""
    process = _Process()
    with _RUNNING_LOCK:
        if command.key in _RUNNING:  # one request per attempt: never a second command for the same key
            return {**_NOTHING, "error": f"task {command.key} already runs on {dask_worker.address}"}
        _RUNNING[command.key] = process
    try:
        while not process.stop.is_set() and not _has_room(dask_worker, command.resources):
            await asyncio.sleep(ADMIT_POLL_SECONDS)
        _ADMITTED.update({"tasks": 1, **command.resources})
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(_THREADS, run_command, command, process, dask_worker)
        finally:
            _ADMITTED.subtract({"tasks": 1, **command.resources})
    finally:
        process.done.set()
        with _RUNNING_LOCK:
            _RUNNING.pop(command.key, None)


def _has_room(worker: Any, needed: Mapping[str, float]) -> bool:
    state = worker.state
    if _ADMITTED["tasks"] + state.executing_count >= max(state.nthreads, 1):
        return False
    return all(state.available_resources.get(name, 0) - _ADMITTED[name] >= amount for name, amount in needed.items())


async def worker_load(dask_worker: Any) -> dict[str, Any]:
    """What runs here, of every client: how many tasks, for the reconcilers' placement."""
    return {"tasks": _ADMITTED["tasks"] + dask_worker.state.executing_count + len(dask_worker.state.ready)}


async def receive_tree(tree: str, archive: bytes, dask_worker: Any) -> None:
    """Unpack a revision's files on this worker, unless they are there already."""

    def unpack() -> None:
        _unpack(_trees(dask_worker), tree, archive)
        _done_with(tree)

    await asyncio.get_running_loop().run_in_executor(_THREADS, unpack)


def run_command(command: RemoteCommand, process: _Process, worker: Any) -> dict[str, Any]:
    """Run the command to its end on `worker`; what happened, as plain data (msgpack and pickle safe).

    Never raises for a failure of the task itself: Dask would log the exception with its arguments. `chunks`
    is how many output events were sent, so the reconciler knows when it has all of them; `tail` is the
    output that came after the last. `missingTree` (nothing was started): the revision's files are not here,
    send them first."""
    if process.stop.is_set():
        return {**_NOTHING, "cancelled": True}
    root = _in_use(_trees(worker), command.tree)
    if root is None:
        return {"missingTree": True}
    try:
        return _run_in(root, command, process, _Output(worker, command), worker)
    finally:
        _done_with(command.tree)


# The answer for a command that never started.
_NOTHING = {"returncode": None, "timedOut": False, "cancelled": False, "error": None, "chunks": 0, "tail": b""}


def _trees(worker: Any) -> Path:
    return Path(worker.local_directory) / "orchrecon-trees"


def _run_in(root: Path, command: RemoteCommand, process: _Process, output: _Output, worker: Any) -> dict[str, Any]:
    """Start the command in `root` (its revision's files) and see it to its end."""
    cwd = root / command.cwd if command.cwd else root
    if not cwd.is_dir():
        output.line(f"[orchrecon] working directory {command.cwd!r} does not exist")
        return _ended(output, error=f"working directory {command.cwd!r} does not exist")
    if process.stop.is_set():
        return _ended(output, cancelled=True)
    try:
        child = _spawner().start(command.argv, cwd, command.env)
    except OSError as exc:
        message = f"cannot start {command.argv[0]!r}: {exc.strerror or exc}"
        output.line(f"[orchrecon] {message}")
        return _ended(output, error=message)
    timed_out = _supervise(child, process, output, command, lambda: _stopping(worker))
    if process.closing:
        message = (
            f"worker {worker.address} closed while running the task (it lost its scheduler, or was told to stop);"
            " its command was stopped"
        )
        output.line(f"[orchrecon] {message}")
        return _ended(output, returncode=child.returncode, error=message)
    return _ended(
        output,
        returncode=child.returncode,
        timed_out=timed_out,
        cancelled=process.stop.is_set() and not timed_out,
    )


async def cancel_command(key: str, grace: float) -> bool:
    """Stop the command of task `key` on this worker, and return once its process group is gone (or after
    `grace` and a little more); False when no such task runs here. Runs on the worker's event loop."""
    import asyncio  # noqa: PLC0415 - the worker's loop; the task thread never needs asyncio

    with _RUNNING_LOCK:
        process = _RUNNING.get(key)
    if process is None:
        return False
    process.stop.set()
    deadline = time.monotonic() + grace + 2.0
    while not process.done.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return True


def is_running(key: str) -> bool:
    """Whether task `key` still has a command (or is about to start one) on this worker."""
    with _RUNNING_LOCK:
        return key in _RUNNING


def worker_version() -> str:
    """The orchrecon version this worker imports: the reconciler refuses workers that have none."""
    from orchrecon import __version__  # noqa: PLC0415

    return __version__


def _supervise(
    child: _Child,
    process: _Process,
    output: _Output,
    command: RemoteCommand,
    stopping: Callable[[], bool],
) -> bool:
    """Read the command's output until its leader exits, then stop what is left of its group and read the rest;
    True when it ran past its timeout. A worker that is closing (it lost its scheduler, or was told to stop)
    stops the command too: no one would get its result, and its process may outlive its port for a while."""
    fd = child.output
    deadline = time.monotonic() + command.timeout
    timed_out = False
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        open_ = True
        while child.poll() is None:
            if process.stop.is_set():
                break
            if stopping():
                process.closing = True
                process.stop.set()
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
            if not open_ or not selector.select(timeout=FLUSH_SECONDS):
                if not open_:  # its output is closed: wait for the spawner to say it exited
                    child.exited.wait(min(FLUSH_SECONDS, max(0.0, deadline - time.monotonic())))
                output.flush_due()
                continue
            data = os.read(fd, CHUNK_BYTES)
            if data:
                output.feed(data)
            else:
                open_ = False
            output.flush_due()
    # A process the command left in its group would hold the task; one that left the group (setsid) cannot
    # hold the pipe past the drain below, which never blocks.
    _stop_group(child.pid, command.kill_grace)
    child.wait()
    os.set_blocking(fd, False)
    with contextlib.suppress(OSError):
        while data := os.read(fd, CHUNK_BYTES):
            output.feed(data)
    os.close(fd)
    return timed_out


def _stopping(worker: Any) -> bool:
    return str(getattr(worker.status, "name", "")) in ("closing", "closed", "failed")


def _stop_group(pgid: int, grace: float) -> None:
    """SIGTERM to what is left of the group, SIGKILL after `grace`; as `CommandExecutor` does."""
    if not signal_group(pgid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if not signal_group(pgid, 0):
            return
    signal_group(pgid, signal.SIGKILL)


class _Child:
    """A command the spawner started: its pid (and process group), the read end of its output, its end."""

    def __init__(self, pid: int, output: int) -> None:
        self.pid, self.output = pid, output
        self.returncode: int | None = None
        self.exited = threading.Event()

    def poll(self) -> int | None:
        return self.returncode if self.exited.is_set() else None

    def wait(self) -> int | None:
        self.exited.wait()
        return self.returncode


class _Spawner:
    """This worker's end of `spawner.py`: started once, from a thread of its own that lives as long as it does
    (PR_SET_PDEATHSIG follows the thread that forked, and Dask's task threads come and go)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[threading.Event, list[Any], int]] = {}  # ref -> answered, answer, output
        self._children: dict[int, _Child] = {}
        self._refs = itertools.count()
        self._socket: socket.socket | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._serve, name="orchrecon-spawner", daemon=True).start()
        self._ready.wait()
        if self._socket is None:
            raise OSError("cannot start orchrecon's spawner process")

    def alive(self) -> bool:
        return self._socket is not None

    def start(self, argv: tuple[str, ...], cwd: Path, env: Mapping[str, str]) -> _Child:
        """Have the spawner start `argv` in `cwd` with the worker's environment and `env`; raises OSError."""
        read_end, write_end = os.pipe()
        ref = next(self._refs)
        answered, answer = threading.Event(), list[Any]()
        path = os.pathsep.join([INTERPRETER_DIR, env.get("PATH", os.environ.get("PATH", os.defpath))])
        request = frame({"ref": ref, "argv": list(argv), "cwd": str(cwd), "env": {**env, "PATH": path}})
        try:
            with self._lock:
                self._pending[ref] = (answered, answer, read_end)
                socket.send_fds(self._channel(), [request], [write_end])
        except OSError:
            with self._lock:
                self._pending.pop(ref, None)
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        answered.wait()
        found = answer[0]
        if isinstance(found, _Child):
            return found
        os.close(read_end)
        raise OSError(0, str(found))

    def _channel(self) -> socket.socket:
        if self._socket is None:
            raise OSError(0, "orchrecon's spawner process is gone")
        return self._socket

    def _serve(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "orchrecon.executors.spawner", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
        except OSError:
            self._ready.set()
            return
        finally:
            theirs.close()
        self._socket = ours
        self._ready.set()
        try:
            for reply in _replies(ours):
                self._dispatch(reply)
        finally:
            with self._lock:
                self._socket = None
                pending, self._pending = self._pending, {}
                children = list(self._children.values())
            for answered, answer, _ in pending.values():
                answer.append({"error": "orchrecon's spawner process is gone"})
                answered.set()
            for child in children:  # it cannot kill them any more: this worker does
                if not child.exited.is_set():
                    signal_group(child.pid, signal.SIGKILL)
                    child.exited.set()
            ours.close()
            process.wait()

    def _dispatch(self, reply: dict[str, Any]) -> None:
        ref = reply["ref"]
        with self._lock:
            if "exited" in reply:  # always after its "pid": the spawner sends both in that order
                child = self._children.pop(ref, None)
                if child is not None:
                    child.returncode = reply["exited"]
                    child.exited.set()
                return
            answered, answer, read_end = self._pending.pop(ref)
            if "pid" in reply:
                child = self._children[ref] = _Child(reply["pid"], read_end)
                answer.append(child)
            else:
                answer.append(reply.get("error", "the spawner process failed"))
        answered.set()


_SPAWNER: list[_Spawner] = []
_SPAWNER_LOCK = threading.Lock()


def _spawner() -> _Spawner:
    with _SPAWNER_LOCK:
        if not _SPAWNER or not _SPAWNER[0].alive():
            _SPAWNER[:] = [_Spawner()]
        return _SPAWNER[0]


def _replies(channel: socket.socket) -> Iterator[dict[str, Any]]:
    """The spawner's length-prefixed JSON messages, until it closes its end."""
    buffer = b""
    while True:
        data = channel.recv(65536)
        if not data:
            return
        buffer += data
        while len(buffer) >= 4 and len(buffer) >= 4 + (size := int.from_bytes(buffer[:4], "big")):
            yield json.loads(buffer[4 : 4 + size])
            buffer = buffer[4 + size :]


def _in_use(base: Path, tree: str) -> Path | None:
    """The revision's files, marked in use until `_done_with`; None when they are not on this worker."""
    target = base / tree
    with _UNPACK_LOCK:
        if not target.is_dir():
            return None
        _IN_USE[tree] += 1
        os.utime(target)  # recently used
    return target


def _unpack(base: Path, tree: str, archive: bytes) -> Path:
    """The revision's files under `base/tree`, unpacked once per worker (under a lock, then renamed into place),
    and marked in use until `_done_with`. Beyond `TREES_KEPT`, the least recently used trees no task uses go."""
    target = base / tree
    with _UNPACK_LOCK:
        _IN_USE[tree] += 1
        if target.is_dir():
            os.utime(target)  # recently used
            return target
        try:
            base.mkdir(parents=True, exist_ok=True)
            building = base / f".{tree}.{os.getpid()}.tmp"
            shutil.rmtree(building, ignore_errors=True)
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                tar.extractall(building, filter="data")  # no absolute paths, no links out of the tree
            building.rename(target)
        except BaseException:
            _IN_USE[tree] -= 1
            raise
        kept = sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_used_at)
        for old in kept[: max(0, len(kept) - TREES_KEPT)]:
            if not _IN_USE[old.name]:
                shutil.rmtree(old, ignore_errors=True)
    return target


def _done_with(tree: str) -> None:
    with _UNPACK_LOCK:
        _IN_USE[tree] -= 1
        if _IN_USE[tree] <= 0:
            del _IN_USE[tree]


def _used_at(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _ended(
    output: _Output,
    *,
    returncode: int | None = None,
    timed_out: bool = False,
    cancelled: bool = False,
    error: str | None = None,
) -> dict[str, Any]:
    tail = output.close()
    return {
        "returncode": returncode,
        "timedOut": timed_out,
        "cancelled": cancelled,
        "error": error,
        "chunks": output.sent,
        "tail": tail,
    }


class _Output:
    """Redacts the command's output and sends it to the reconciler as numbered events, batched in time."""

    def __init__(self, worker: Any, command: RemoteCommand) -> None:
        self._worker = worker
        self._key = command.key
        self._redactor = Redactor(command.secrets)
        self._buffer = bytearray()
        self._last = time.monotonic()
        self.sent = 0

    def feed(self, data: bytes) -> None:
        self._buffer += self._redactor.feed(data)
        if len(self._buffer) >= CHUNK_BYTES:
            self._flush()

    def line(self, text: str) -> None:
        self._buffer += self._redactor.text(text).encode() + b"\n"

    def flush_due(self) -> None:
        if self._buffer and time.monotonic() - self._last >= FLUSH_SECONDS:
            self._flush()

    def close(self) -> bytes:
        """The output not sent yet: it goes back with the answer, which needs no wait for an event."""
        self._buffer += self._redactor.flush()
        tail, self._buffer = bytes(self._buffer), bytearray()
        return tail

    def _flush(self) -> None:
        data, self._buffer = bytes(self._buffer), bytearray()
        self._send({"key": self._key, "seq": self.sent, "data": data})
        self._last = time.monotonic()

    def _send(self, message: dict[str, Any]) -> None:
        self._worker.log_event(LOG_TOPIC, message)
        self.sent += 1
