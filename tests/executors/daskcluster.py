"""A real Dask cluster on 127.0.0.1 for the dask executor's tests: `dask scheduler` and `dask worker` processes.

Workers run without a nanny, so killing a worker's process is the worker's death (no restart behind the
test's back).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from distributed import Client

from orchrecon.executors.remote import worker_load

DASK = str(Path(sys.executable).parent / "dask")
START_TIMEOUT = 60.0


@dataclass
class Cluster:
    folder: Path
    scheduler: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)  # worker name -> its --resources
    address: str = ""

    @property
    def scheduler_file(self) -> Path:
        return self.folder / "scheduler.json"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def start_scheduler(self) -> None:
        self.scheduler_file.unlink(missing_ok=True)
        argv = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        with (self.folder / "scheduler.log").open("ab") as log:
            self.scheduler = subprocess.Popen(
                [*argv, "--scheduler-file", str(self.scheduler_file)], stdout=log, stderr=log, env=self.env()
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.address:
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the Dask scheduler did not start: {self.log('scheduler')}")
            try:
                self.address = json.loads(self.scheduler_file.read_text(encoding="utf-8"))["address"]
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                time.sleep(0.05)

    def start_worker(self, name: str, resources: str = "", *, behind: Relay | None = None) -> None:
        """`behind`: the worker listens on the relay's target and tells everyone to reach it through the relay."""
        self.resources[name] = resources
        argv = [DASK, "worker", self.address, "--name", name, "--nthreads", "2", "--no-nanny", "--no-dashboard"]
        argv += ["--local-directory", str(self.folder / name)]
        if behind is not None:
            host, port = behind.target
            argv += ["--listen-address", f"tcp://{host}:{port}", "--contact-address", behind.address]
        if resources:
            argv += ["--resources", resources]
        with (self.folder / f"{name}.log").open("ab") as log:
            self.workers[name] = subprocess.Popen(argv, stdout=log, stderr=log, env=self.env())

    def wait_for_workers(self) -> None:
        """Until every worker started is registered with the scheduler."""
        with Client(self.address, timeout=START_TIMEOUT) as client:
            client.wait_for_workers(len(self.workers), timeout=START_TIMEOUT)

    def worker_addresses(self) -> dict[str, str]:
        """Worker name -> address, as the scheduler knows them."""
        with Client(self.address, timeout=START_TIMEOUT) as client:
            info = client.scheduler_info(n_workers=-1)["workers"]
        return {w["name"]: address for address, w in info.items()}

    def load(self) -> dict[str, int]:
        """Worker address -> how many tasks run there (orchrecon's of every client, and Dask's), as it says."""
        with Client(self.address, timeout=START_TIMEOUT) as client:
            found = client.run(worker_load)
        return {address: int(load["tasks"]) for address, load in found.items()}

    def ensure(self) -> None:
        """Every worker alive and registered again (a test may have killed one)."""
        for name, process in list(self.workers.items()):
            if process.poll() is not None:
                self.start_worker(name, self.resources[name])
        self.wait_for_workers()

    def kill_worker(self, name: str) -> None:
        process = self.workers[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def kill_scheduler(self) -> None:
        assert self.scheduler is not None
        self.scheduler.send_signal(signal.SIGKILL)
        self.scheduler.wait(10)

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(self.log(name) for name in ["scheduler", *self.workers])

    def stop(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)


def start_cluster(folder: Path, workers: Mapping[str, str]) -> Cluster:
    """A scheduler and `workers` (name -> --resources), all registered."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(folder)
    try:
        cluster.start_scheduler()
        for name, resources in workers.items():
            cluster.start_worker(name, resources)
        if workers:
            cluster.wait_for_workers()
    except BaseException:
        cluster.stop()
        raise
    return cluster


class Relay:
    """A TCP relay on 127.0.0.1 to `target` (host, port): `reset()` drops every connection through it, as a
    restarted proxy or a flushed connection table would; `cut()` also refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inbound, _ = self._listener.accept()
            except OSError:
                return
            try:
                outbound = socket.create_connection(self.target)
            except OSError:
                inbound.close()
                continue
            with self._lock:
                self._sockets += [inbound, outbound]
            for source, sink in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def reset(self) -> None:
        with self._lock:
            dropped, self._sockets = self._sockets, []
        for s in dropped:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def cut(self) -> None:
        self._listener.close()
        self.reset()
