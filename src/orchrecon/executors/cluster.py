"""The dask executor: command tasks on a Dask cluster, each attempt at most once.

orchrecon keeps every decision: which run starts, which configuration is free (its own locks, never Dask's),
and which worker takes a task: the least loaded one that runs the same orchrecon and offers the
configuration's `run.resources`, counting its threads and resources as Dask would. The scheduler says which
workers there are, their resources and what else they run; the task itself goes straight to its worker, one
request on a connection of orchrecon's own (the worker's `run` handler). Nothing in Dask queues, retries or
moves it, so a worker that dies ends its task `error`, and only `orchrecon retry` runs it again; and a
scheduler that goes away mid-run costs nothing to the tasks already on their workers. Through the scheduler,
a task would wait on its batching at every hop: tens of milliseconds per task, more than most tasks take.

When the connection to a worker breaks while its task runs, the task ends `error`, but its configuration
stays locked (`TaskResult.hold`) until the worker says the command is gone, the worker's port refuses
connections (its process died, and the command with it), or the task's own timeout has passed: the worker
enforces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from distributed import Client
from distributed.comm.core import Comm
from distributed.core import ConnectionPool, rpc, send_recv
from distributed.protocol.pickle import dumps

from orchrecon import __version__
from orchrecon.executors import MissingSecretError, Outcome, TaskJob, TaskResult
from orchrecon.executors.command import exit_result, task_variables
from orchrecon.executors.environment import Redactor, resolve_env, secret_values
from orchrecon.executors.remote import (
    LOG_TOPIC,
    RemoteCommand,
    cancel_command,
    is_running,
    receive_tree,
    run_remote,
    worker_load,
    worker_version,
)
from orchrecon.executors.results import failure, timed_out
from orchrecon.executors.tasklog import DEFAULT_CAP, DEFAULT_KEEP, TaskLog
from orchrecon.executors.trees import DEFAULT_LIMIT, Tree, TreeTooLargeError, pack

ENV_VAR = "ORCHRECON_DASK_SCHEDULER"
OUTPUT_WAIT_SECONDS = 5.0  # after the answer, how long the output events sent before it may take to arrive
HOLD_POLL_SECONDS = 1.0
OTHERS_SECONDS = 0.5
_TREES_KEPT = 4  # revisions packed here (the newest, for runs still going on older ones)
_SHIPPED_KEPT = 64  # (worker, revision) pairs known to be unpacked


class ClusterError(Exception):
    """The cluster cannot take tasks now: unreachable, misconfigured, or no worker that fits."""


@dataclass(eq=False)
class _Flight:
    """A task sent to its worker, from the request to the last of its output."""

    key: str
    worker: str
    log: TaskLog
    comm: Comm | None = None  # the request's connection, while it waits for the answer
    lost: bool = False  # the scheduler said its worker left
    pending: dict[int, dict[str, Any]] = field(default_factory=dict)
    received: int = 0  # output events applied, in order
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Worker:
    nthreads: int
    resources: Mapping[str, float]
    usable: str | None = None  # None until probed; "" when it runs orchrecon, else why it cannot be used
    ours: int = 0  # tasks chosen for it here that have not ended
    using: Counter[str] = field(default_factory=Counter)  # the resources those tasks hold
    others: int = 0  # other clients' Dask tasks there, as the scheduler said at the last look

    @classmethod
    def known_as(cls, identity: Mapping[str, Any]) -> _Worker:
        """A worker as the scheduler's identity describes it."""
        return cls(nthreads=int(identity.get("nthreads", 1)), resources=dict(identity.get("resources") or {}))

    def offers(self, needed: Mapping[str, float]) -> bool:
        return all(self.resources.get(name, 0) >= amount for name, amount in needed.items())

    def has_room(self, needed: Mapping[str, float]) -> bool:
        """A thread free, and the resources: a task waits for them, as Dask would make it."""
        return self.ours + self.others < max(self.nthreads, 1) and all(
            self.resources.get(name, 0) - self.using[name] >= amount for name, amount in needed.items()
        )


class DaskExecutor:
    """Runs `run.command` tasks on the workers of the Dask scheduler at `address` (see the module docstring)."""

    def __init__(
        self,
        address: str,
        *,
        connect_timeout: float = 5.0,
        kill_grace: float = 5.0,
        log_cap: int = DEFAULT_CAP,
        log_keep: int = DEFAULT_KEEP,
        tree_limit: int = DEFAULT_LIMIT,
    ) -> None:
        self.address = address
        self._connect_timeout = connect_timeout
        self._kill_grace = kill_grace
        self._log_cap, self._log_keep = log_cap, log_keep
        self._tree_limit = tree_limit
        self._client: Client | None = None
        self._pool: ConnectionPool | None = None  # to the workers, apart from the client's: it outlives a client
        self._connecting: asyncio.Task[Client] | None = None
        self._failed: tuple[float, str] | None = None  # when the last connect failed, and why
        self._workers: dict[str, _Worker] = {}
        self._changed = asyncio.Event()  # set, and replaced, when a worker frees room, comes or goes
        self._flights: dict[str, _Flight] = {}
        self._placed: dict[tuple[str, str], str] = {}  # (run, task) -> the worker `place` chose
        self._others_at = 0.0  # when the workers were last asked what other clients run there
        self._looking: asyncio.Future[None] | None = None
        self._packing: dict[tuple[str, str | None, str], asyncio.Task[Tree]] = {}
        self._shipped: dict[tuple[str, str], asyncio.Task[None]] = {}  # (worker, tree) -> its files sent there
        self._background: set[asyncio.Task[Any]] = set()

    # -- what the runner and the reconciler ask ------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Whether the cluster is reachable and how many workers can take tasks, for status and health."""
        client = self._client
        reachable = client is not None and client.status == "running"
        error = None if reachable else (self._failed[1] if self._failed else "not connected yet")
        return {
            "scheduler": _shown(self.address),
            "reachable": reachable,
            "workers": sum(1 for w in self._workers.values() if w.usable == "") if reachable else 0,
            "tasks": len(self._flights),
            **({"error": error} if error else {}),
        }

    async def place(self, job: TaskJob) -> Mapping[str, Any]:
        """Choose the worker for `job` before it is recorded as started, so `task.started` says where it runs;
        waits while every worker that fits is busy. Empty when none can be chosen: `run` then ends the task
        with the reason."""
        if not job.config.run.command:
            return {}
        try:
            worker = await self._choose(job)
        except ClusterError:
            return {}
        self._placed[(job.run_id, job.task)] = worker
        return {"worker": worker}

    async def check(self) -> None:
        """Connect now if not connected (a failure is kept for `status`)."""
        with contextlib.suppress(ClusterError):
            await self._connected()

    async def close(self) -> None:
        client, self._client = self._client, None
        pool, self._pool = self._pool, None
        if client is not None:
            await self._quietly_close(client)
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.close()

    # -- running ---------------------------------------------------------------------------------------

    async def run(self, job: TaskJob) -> TaskResult:
        spec = job.config.run
        if not spec.command:
            return failure(f"configuration {job.config.ref} has no run.command")
        secrets = [job.token, *secret_values(spec.env, job.environ)]
        needed = dict(spec.resources)
        result: TaskResult | None = None
        with TaskLog(job.log_path, Redactor(secrets), cap=self._log_cap, keep=self._log_keep) as log:
            worker = self._placed.pop((job.run_id, job.task), None)
            try:
                env = _environment(job, resolve_env(spec.env, job.environ))
                if worker is None:
                    worker = await self._choose(job)
                result = await self._run_on(worker, job, env, secrets, log)
            except (MissingSecretError, ClusterError, TreeTooLargeError) as exc:
                log.line(f"[orchrecon] {exc}")
                return failure(str(exc))
            finally:
                if worker is not None and (result is None or result.hold is None):
                    self._done_on(worker, needed)
        if result.hold is None:
            return result
        hold, busy = result.hold, worker

        async def then_free() -> None:  # what may still run there keeps its room until it is surely gone
            try:
                await hold()
            finally:
                self._done_on(busy, needed)

        return dataclasses.replace(result, hold=then_free)

    async def _run_on(
        self, worker: str, job: TaskJob, env: Mapping[str, str], secrets: list[str], log: TaskLog
    ) -> TaskResult:
        spec = job.config.run
        assert spec.command
        if worker not in self._workers:
            raise ClusterError(f"worker {worker} left before the task started; it did not run")
        await self._connected()
        # A clean revision's files are named by its commit: a worker that has them needs nothing sent, and one
        # that has not says so before it starts anything. A working tree with changes is named by its content.
        tree = None if job.revision and not job.dirty else await self._tree(job)
        name = tree.key if tree is not None else job.revision or ""
        # A run attempts each task once (a retry is a new run, with a new id), so the attempt is always 1.
        command = RemoteCommand(
            key=f"{job.run_id}/{job.task}/1",
            argv=tuple(spec.command),
            cwd=spec.cwd,
            env=env,
            secrets=tuple(secrets),
            tree=name,
            timeout=spec.timeout.total_seconds(),
            kill_grace=self._kill_grace,
            resources=dict(spec.resources),
        )
        flight = _Flight(key=command.key, worker=worker, log=log)
        self._flights[flight.key] = flight
        try:
            outcome = await self._send(flight, command)
            if isinstance(outcome, dict) and outcome.get("missingTree"):  # nothing started: send the files first
                if (known := self._shipped.get((worker, name))) is not None and known.done():
                    del self._shipped[(worker, name)]  # sent before, and pruned there since
                await self._ship(worker, tree or await self._tree(job))
                outcome = await self._send(flight, command)
                if isinstance(outcome, dict) and outcome.get("missingTree"):
                    raise ClusterError(f"worker {worker} keeps losing the run's files; the task did not start")
            if isinstance(outcome, TaskResult):
                return outcome
            await self._all_output(flight, outcome["chunks"])
            flight.log.feed(bytes(outcome["tail"]))
            return self._result(flight, outcome, job)
        finally:
            self._flights.pop(flight.key, None)

    async def _send(self, flight: _Flight, command: RemoteCommand) -> dict[str, Any] | TaskResult:
        """The worker's answer to `run_remote`, or the task's result when there is none."""
        pool = self._worker_pool()
        try:
            comm = await pool.connect(flight.worker)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach worker {flight.worker}: {_first_line(exc)}; the task did not start"
            ) from None
        sent = time.monotonic()
        flight.comm = comm
        try:
            answer = await send_recv(comm, op="run", function=dumps(run_remote), args=dumps((command,)), wait=True)
        except asyncio.CancelledError:  # this task was cancelled: stop the remote one
            comm.abort()
            await asyncio.shield(self._cancel(flight, command, sent))
            raise
        except OSError:  # the connection broke, or the scheduler said the worker left (_on_cluster_event)
            comm.abort()
            return await self._connection_lost(flight, command, sent)
        finally:
            flight.comm = None
        pool.reuse(flight.worker, comm)
        if answer.get("status") != "OK":  # run_remote never raises: the worker could not call it
            message = f"the task could not start on {flight.worker}: {_remote_error(answer)}"
            flight.log.line(f"[orchrecon] {message}")
            return failure(message, worker=flight.worker)
        outcome: dict[str, Any] = answer["result"]
        return outcome

    def _result(self, flight: _Flight, outcome: Mapping[str, Any], job: TaskJob) -> TaskResult:
        log = flight.log
        if outcome["timedOut"]:
            result = timed_out(job.config.run.timeout, worker=flight.worker)
            log.line(f"[orchrecon] {result.error}; the process group was killed on {flight.worker}")
            return result
        if outcome["error"]:
            return failure(outcome["error"], worker=flight.worker)
        if outcome["cancelled"]:
            log.line(f"[orchrecon] cancelled on {flight.worker}; the process group was killed")
            return failure(f"cancelled on {flight.worker}", worker=flight.worker)
        result = exit_result(outcome["returncode"], log)
        if result.details or result.error:
            return TaskResult(
                outcome=result.outcome,
                exit_code=result.exit_code,
                error=result.error,
                details={**result.details, "worker": flight.worker},
            )
        return result

    async def _connection_lost(self, flight: _Flight, command: RemoteCommand, sent: float) -> TaskResult:
        """The request's connection broke before the answer: the command may still run there, or not at all."""
        if flight.lost or await _stopped_listening(flight.worker):
            message = (
                f"worker {flight.worker} lost while running the task; nothing runs it again"
                " (orchrecon retry does, if you decide so)"
            )
        else:
            message = (
                f"connection to worker {flight.worker} lost; the task may still be running there"
                " (its configuration stays locked until that worker says it ended or its timeout passes)"
            )
        flight.log.line(f"[orchrecon] {message}")
        hold = _Hold(flight.worker, command, sent)
        return TaskResult(outcome=Outcome.ERROR, error=message, details={"worker": flight.worker}, hold=hold.wait)

    async def _cancel(self, flight: _Flight, command: RemoteCommand, sent: float) -> None:
        """Kill the remote process group and wait until it is gone; when the worker cannot say, hold on as
        after a lost connection."""
        try:
            async with asyncio.timeout(self._kill_grace + 5.0):
                await self._call(flight.worker, cancel_command, flight.key, self._kill_grace)
        except Exception:
            await _Hold(flight.worker, command, sent).wait()
        flight.log.line(f"[orchrecon] cancelled; the process group was killed on {flight.worker}")

    async def _call(self, worker: str, function: Callable[..., Any], *args: Any) -> Any:
        """`function(*args)` on `worker`, on a pooled connection; raises OSError, or RuntimeError with the
        worker's error."""
        pool = self._worker_pool()
        comm = await pool.connect(worker)
        try:
            answer = await send_recv(comm, op="run", function=dumps(function), args=dumps(args), wait=True)
        except BaseException:
            comm.abort()
            raise
        pool.reuse(worker, comm)
        if answer.get("status") != "OK":
            raise RuntimeError(_remote_error(answer))
        return answer["result"]

    async def _all_output(self, flight: _Flight, chunks: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OUTPUT_WAIT_SECONDS
        while flight.received < chunks and loop.time() < deadline:
            flight.arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline - loop.time()):
                    await flight.arrived.wait()
        if flight.received < chunks:
            flight.log.line(
                f"[orchrecon] {chunks - flight.received} parts of the output did not arrive from {flight.worker}"
            )

    def _on_output(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        flight = self._flights.get(message.get("key", ""))
        if flight is None:
            return
        flight.pending[message["seq"]] = message
        while (next_ := flight.pending.pop(flight.received, None)) is not None:
            flight.received += 1
            flight.log.feed(bytes(next_["data"]))
        flight.arrived.set()

    def _on_cluster_event(self, event: tuple[float, dict[str, Any]]) -> None:
        message = event[1]
        action, address = message.get("action"), message.get("worker")
        if not isinstance(address, str):
            return
        if action == "add-worker":
            self._spawn(self._add_worker(address))
        elif action == "remove-worker":
            self._workers.pop(address, None)
            self._wake()
            for flight in self._flights.values():
                if flight.worker == address and flight.comm is not None:
                    flight.lost = True  # a connection to a host that vanished may take long to break by itself
                    flight.comm.abort()

    # -- the cluster -----------------------------------------------------------------------------------

    async def _choose(self, job: TaskJob) -> str:
        """The least loaded worker that runs orchrecon and offers the configuration's resources, once it has
        a thread and those resources free."""
        needed = dict(job.config.run.resources)
        while True:
            await self._connected()
            usable = {a: w for a, w in self._workers.items() if w.usable == ""}
            if not usable:
                reasons = sorted({w.usable for w in self._workers.values() if w.usable})
                why = f": {'; '.join(reasons)}" if reasons else ""
                raise ClusterError(f"no Dask worker can take tasks at {_shown(self.address)}{why}")
            offering = {a: w for a, w in usable.items() if w.offers(needed)}
            if not offering:
                wanted = ", ".join(f"{n}={v:g}" for n, v in sorted(needed.items()))
                raise ClusterError(f"no Dask worker offers the resources {job.config.ref} needs ({wanted})")
            await self._look_at_others()
            free = [
                ((w.others + w.ours) / max(w.nthreads, 1), random.random(), a)
                for a, w in offering.items()
                if w.has_room(needed)
            ]
            if free:
                chosen = self._workers[min(free)[2]]  # the least loaded; among equals any, so clients spread
                chosen.ours += 1
                chosen.using.update(needed)
                return min(free)[2]
            changed = self._changed
            with contextlib.suppress(TimeoutError):  # other clients' tasks end unseen: look again now and then
                async with asyncio.timeout(OTHERS_SECONDS):
                    await changed.wait()

    def _done_on(self, worker: str, needed: Mapping[str, float]) -> None:
        found = self._workers.get(worker)
        if found is not None:
            found.ours = max(0, found.ours - 1)
            found.using.subtract(needed)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _look_at_others(self) -> None:
        """Ask what other clients of the cluster run on each worker, at most every OTHERS_SECONDS. Only the
        first answer is waited for: then the placement goes on with the last one while the next is asked in
        the background, as a question per task, or a wait for one, would sit on every task's way to a worker."""
        if time.monotonic() - self._others_at < OTHERS_SECONDS:
            return
        if self._looking is None or self._looking.done():
            first = self._looking is None
            self._looking = asyncio.ensure_future(self._ask_for_others())
            if first:
                await asyncio.shield(self._looking)

    async def _ask_for_others(self) -> None:
        self._others_at = time.monotonic()  # a failed question, too, waits its turn to be asked again
        try:
            client = await self._connected()
            loads = await client.run(worker_load, workers=list(self._workers), on_error="return")
        except Exception:
            return  # the placement goes on with what it knows
        for address, load in loads.items():
            if (worker := self._workers.get(address)) is not None and isinstance(load, dict):
                # Its count has this process's tasks that got there; the rest are other clients'.
                worker.others = max(0, int(load["tasks"]) - worker.ours)
        self._wake()  # tasks waiting for room may find it now

    def _worker_pool(self) -> ConnectionPool:
        if self._pool is None:
            raise OSError("not connected to the cluster")
        return self._pool

    async def _connected(self) -> Client:
        client = self._client
        if client is not None and client.status == "running":
            return client
        if client is not None:  # lost: start afresh
            self._client = None
            self._spawn(self._quietly_close(client))
        if self._failed is not None and time.monotonic() - self._failed[0] < self._connect_timeout:
            raise ClusterError(self._failed[1])  # one attempt at a time: a phase's tasks fail together, fast
        if self._connecting is None:
            self._connecting = asyncio.create_task(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> Client:
        _quiet_dask_logs()
        try:
            client: Client = await Client(
                self.address, asynchronous=True, timeout=self._connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError, ValueError) as exc:
            reason = f"Dask scheduler {_shown(self.address)} unreachable: {_first_line(exc)}"
            self._failed = (time.monotonic(), reason)
            raise ClusterError(reason) from None
        try:
            client.subscribe_topic(LOG_TOPIC, self._on_output)
            client.subscribe_topic("all", self._on_cluster_event)
            info = await _scheduler(client).identity(n_workers=-1)
            workers = {address: _Worker.known_as(w) for address, w in info.get("workers", {}).items()}
            for address, worker in workers.items():  # what this process still runs there keeps its room
                if (known := self._workers.get(address)) is not None:
                    worker.ours, worker.using = known.ours, known.using
            self._workers = workers
            await self._probe(client, list(self._workers))
        except Exception as exc:
            reason = f"Dask scheduler {_shown(self.address)}: {_first_line(exc)}"
            self._failed = (time.monotonic(), reason)
            await self._quietly_close(client)
            raise ClusterError(reason) from None
        if self._pool is None:
            self._pool = await ConnectionPool(limit=512, timeout=self._connect_timeout)
        self._failed = None
        self._client = client
        self._wake()
        return client

    async def _probe(self, client: Client, addresses: list[str]) -> None:
        """Which workers can run orchrecon's functions (they travel by reference)."""
        if not addresses:
            return
        answers = await client.run(worker_version, workers=addresses, on_error="return")
        for address, answer in answers.items():
            if address in self._workers:
                if not isinstance(answer, str):
                    reason = f"{address} cannot import orchrecon (pip install 'orchrecon[dask]' there)"
                elif answer != __version__:  # the task's arguments are this version's classes
                    reason = f"{address} runs orchrecon {answer}, this machine {__version__}: install the same version"
                else:
                    reason = ""
                self._workers[address].usable = reason

    async def _add_worker(self, address: str) -> None:
        client = self._client
        if client is None:
            return
        with contextlib.suppress(Exception):
            info = await _scheduler(client).identity(n_workers=-1)
            found = info.get("workers", {}).get(address)
            if found is None:
                return
            self._workers[address] = _Worker.known_as(found)
            await self._probe(client, [address])
            self._wake()

    async def _tree(self, job: TaskJob) -> Tree:
        """The run's files, packed once per revision."""
        # Packing reads the disk and compresses: a thread, once per revision. A working tree with changes
        # is packed once per run, as the run found it when its first task started.
        where = (str(job.repo_root), job.revision, job.run_id if job.dirty or not job.revision else "")
        packing = self._packing.get(where)
        if packing is None:
            packing = self._packing[where] = asyncio.create_task(
                asyncio.to_thread(pack, job.repo_root, revision=job.revision, dirty=job.dirty, limit=self._tree_limit)
            )
            while len(self._packing) > _TREES_KEPT:
                self._packing.pop(next(iter(self._packing)))
        try:
            return await asyncio.shield(packing)
        except TreeTooLargeError:
            self._packing.pop(where, None)
            raise

    async def _ship(self, worker: str, tree: Tree) -> None:
        """The run's files unpacked on `worker`: sent once per worker and revision, whatever the tasks waiting."""
        where = (worker, tree.key)
        shipping = self._shipped.get(where)
        if shipping is None or (shipping.done() and shipping.exception() is not None):
            shipping = self._shipped[where] = asyncio.ensure_future(
                self._call(worker, receive_tree, tree.key, tree.archive)
            )
            while len(self._shipped) > _SHIPPED_KEPT:
                self._shipped.pop(next(iter(self._shipped)))
        try:
            await asyncio.shield(shipping)
        except (OSError, RuntimeError) as exc:
            raise ClusterError(
                f"cannot send the run's files to worker {worker}: {_first_line(exc)}; the task did not start"
            ) from None

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _quietly_close(client: Client) -> None:
        with contextlib.suppress(Exception):
            await client.close(timeout=2)


class _Hold:
    """Waits until `command` on `worker` is surely gone, or its timeout since `submitted` (monotonic) has passed."""

    def __init__(self, worker: str, command: RemoteCommand, submitted: float) -> None:
        # The worker ends the command at its timeout (and kill grace) itself: past that, nothing can still run.
        self._worker, self._key = worker, command.key
        self._deadline = submitted + command.timeout + command.kill_grace + 10.0
        self._grace = command.kill_grace + 1.0

    async def wait(self) -> None:
        while time.monotonic() < self._deadline:
            gone = await self._gone()
            if gone:
                return
            await asyncio.sleep(min(HOLD_POLL_SECONDS, max(0.0, self._deadline - time.monotonic())))

    async def _gone(self) -> bool:
        listening = await _listening(self._worker)
        if listening is False:
            # Nothing listens: the worker is closing or dead. A closing worker stops its commands (within the
            # kill grace); a dead one took them with it (PR_SET_PDEATHSIG).
            await asyncio.sleep(self._grace)
            return True
        if listening is None:
            return False  # unreachable says nothing: the worker may still run it, and ends it at its timeout
        try:
            async with asyncio.timeout(5.0):
                async with rpc(self._worker) as worker:
                    answer = await worker.run(function=dumps(is_running), args=dumps((self._key,)))
        except Exception:
            return False
        return answer.get("status") == "OK" and answer.get("result") is False


async def _stopped_listening(worker: str, within: float = 1.0) -> bool:
    """Whether `worker`'s port refuses connections now or within `within` seconds: a killed process's
    connections may break a moment before its port closes."""
    deadline = time.monotonic() + within
    while True:
        if await _listening(worker) is False:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)


async def _listening(worker: str) -> bool | None:
    """Whether something listens on `worker`'s port: False when the connection is refused (its process is
    gone, or closing), None when the host cannot be reached (that says nothing)."""
    host, port = _host_port(worker)
    if host is None:
        return None
    try:
        async with asyncio.timeout(2.0):
            _, writer = await asyncio.open_connection(host, port)
    except ConnectionRefusedError:
        return False
    except (OSError, TimeoutError):
        return None
    writer.close()
    return True


def _remote_error(answer: Mapping[str, Any]) -> str:
    exception = answer.get("exception")
    if isinstance(exception, BaseException):
        return f"{type(exception).__name__}: {_first_line(exception)}"
    text = str(answer.get("exception_text") or answer.get("text") or answer.get("status") or "no answer")
    return text.splitlines()[0] if text.strip() else "no answer"


def _environment(job: TaskJob, configured: Mapping[str, str]) -> dict[str, str]:
    """What a remote command gets on top of its worker's environment: the configured env and orchrecon's
    variables. Not this machine's environment (its PATH and HOME mean nothing there), nor the state
    directory, which a worker cannot reach."""
    return {**configured, **task_variables(job)}


def _scheduler(client: Client) -> Any:
    """The client's connection to its scheduler, for the calls Client does not wrap."""
    return client.scheduler


def _quiet_dask_logs() -> None:
    """Dask logs a lost connection and its reconnect attempts at length; orchrecon reports them in one line
    of the task's record and the reconciler's status."""
    for name in ("distributed", "distributed.client", "distributed.core", "distributed.comm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _host_port(address: str) -> tuple[str | None, int]:
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "tls") or parts.hostname is None or parts.port is None:
        return None, 0
    return parts.hostname, parts.port


def _shown(address: str) -> str:
    """The address without credentials a URL might carry."""
    parts = urlsplit(address)
    if parts.password is None and parts.username is None:
        return address
    return address.replace(parts.netloc, parts.netloc.rsplit("@", 1)[-1])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
