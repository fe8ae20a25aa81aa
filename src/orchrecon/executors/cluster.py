"""The dask executor: command tasks on a Dask cluster, each attempt at most once.

orchrecon keeps every decision: which run starts, which configuration is free (its own locks, never Dask's),
and which worker takes a task. A task is pinned to the worker chosen here (`workers=[address]`, no other
worker allowed), submitted under a key of its own (`<run>/<task>/<attempt>`, `pure=False`, `retries=0`), to a
scheduler that must not resubmit a task whose worker died (`distributed.scheduler.allowed-failures: 0`,
checked at connect). So a worker that dies ends its tasks `error`, and only `orchrecon retry` runs them again.

When the connection to the scheduler is lost, the tasks in flight end `error`, but their configurations stay
locked (`TaskResult.hold`) until their worker says the command is gone, the worker's port refuses connections
(its process died, and the command with it), or the task's own timeout has passed: the worker enforces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from distributed import Client, Future
from distributed.client import FutureCancelledError
from distributed.core import rpc
from distributed.protocol.pickle import dumps
from distributed.scheduler import KilledWorker

from orchrecon import __version__
from orchrecon.executors import MissingSecretError, Outcome, TaskJob, TaskResult
from orchrecon.executors.command import exit_result, task_variables
from orchrecon.executors.environment import Redactor, resolve_env, secret_values
from orchrecon.executors.remote import LOG_TOPIC, RemoteCommand, cancel_command, is_running, run_command, worker_version
from orchrecon.executors.results import failure, timed_out
from orchrecon.executors.tasklog import DEFAULT_CAP, DEFAULT_KEEP, TaskLog
from orchrecon.executors.trees import DEFAULT_LIMIT, Tree, TreeTooLargeError, pack

ENV_VAR = "ORCHRECON_DASK_SCHEDULER"
OUTPUT_WAIT_SECONDS = 5.0  # after the result, how long the rest of the output may take to arrive
HOLD_POLL_SECONDS = 1.0
OTHERS_SECONDS = 0.5
_TREES_KEPT = 4  # revisions whose files stay on the cluster (the newest, for runs still going on older ones)


class ClusterError(Exception):
    """The cluster cannot take tasks now: unreachable, misconfigured, or no worker that fits."""


@dataclass(eq=False)
class _Flight:
    """A task submitted to the cluster, from submission to the last of its output."""

    key: str
    worker: str
    log: TaskLog
    future: Future[dict[str, Any]] | None = None
    started: bool = False
    lost: str | None = None  # set when its worker left: why it ended
    pending: dict[int, dict[str, Any]] = field(default_factory=dict)
    received: int = 0  # output events applied, in order
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Worker:
    nthreads: int
    resources: Mapping[str, float]
    usable: str | None = None  # None until probed; "" when it runs orchrecon, else why it cannot be used
    ours: int = 0  # tasks chosen for it here that have not ended
    others: int = 0  # other clients' tasks there, as the scheduler said at the last look

    @classmethod
    def known_as(cls, identity: Mapping[str, Any]) -> _Worker:
        """A worker as the scheduler's identity describes it."""
        return cls(nthreads=int(identity.get("nthreads", 1)), resources=dict(identity.get("resources") or {}))


class DaskExecutor:
    """Runs `run.command` tasks on the Dask scheduler at `address` (see the module docstring)."""

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
        self._connecting: asyncio.Task[Client] | None = None
        self._failed: tuple[float, str] | None = None  # when the last connect failed, and why
        self._workers: dict[str, _Worker] = {}
        self._flights: dict[str, _Flight] = {}
        self._placed: dict[tuple[str, str], str] = {}  # (run, task) -> the worker `place` chose
        self._others_at = 0.0  # when the scheduler last said what other clients run where
        self._looking: asyncio.Future[None] | None = None
        self._trees: dict[str, tuple[Tree, Future[bytes]]] = {}
        self._packing: dict[tuple[str, str | None, str], asyncio.Task[Tree]] = {}
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
        """Choose the worker for `job` before it is recorded as started, so `task.started` says where it runs.
        Empty when none can be chosen: `run` then ends the task with the reason."""
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
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close(timeout=2)

    # -- running ---------------------------------------------------------------------------------------

    async def run(self, job: TaskJob) -> TaskResult:
        spec = job.config.run
        if not spec.command:
            return failure(f"configuration {job.config.ref} has no run.command")
        secrets = [job.token, *secret_values(spec.env, job.environ)]
        with TaskLog(job.log_path, Redactor(secrets), cap=self._log_cap, keep=self._log_keep) as log:
            worker = self._placed.pop((job.run_id, job.task), None)
            try:
                env = _environment(job, resolve_env(spec.env, job.environ))
                if worker is None:
                    worker = await self._choose(job)
                return await self._run_on(worker, job, env, secrets, log)
            except (MissingSecretError, ClusterError, TreeTooLargeError) as exc:
                log.line(f"[orchrecon] {exc}")
                return failure(str(exc))
            finally:
                if worker is not None:
                    self._done_on(worker)

    async def _run_on(
        self, worker: str, job: TaskJob, env: Mapping[str, str], secrets: list[str], log: TaskLog
    ) -> TaskResult:
        spec = job.config.run
        assert spec.command
        if worker not in self._workers:
            raise ClusterError(f"worker {worker} left before the task started; it did not run")
        client = await self._connected()
        tree, data = await self._tree(client, job, worker)
        # A run attempts each task once (a retry is a new run, with a new id), so the attempt is always 1;
        # were the same key submitted twice, Dask would take it as the same task, never run it twice.
        key = f"{job.run_id}/{job.task}/1"
        command = RemoteCommand(
            key=key,
            argv=tuple(spec.command),
            cwd=spec.cwd,
            env=env,
            secrets=tuple(secrets),
            tree=tree.key,
            timeout=spec.timeout.total_seconds(),
            kill_grace=self._kill_grace,
        )
        flight = _Flight(key=key, worker=worker, log=log)
        return await self._submit(client, flight, command, data, job)

    async def _submit(
        self, client: Client, flight: _Flight, command: RemoteCommand, data: Future[bytes], job: TaskJob
    ) -> TaskResult:
        resources = dict(job.config.run.resources)
        self._flights[flight.key] = flight
        submitted = time.monotonic()
        try:
            flight.future = client.submit(
                run_command,
                command,
                data,
                key=flight.key,
                workers=[flight.worker],
                allow_other_workers=False,
                pure=False,
                retries=0,
                resources=resources or None,
            )
            try:
                outcome: dict[str, Any] = await flight.future
            except FutureCancelledError as exc:  # by the client (a lost scheduler) or by _on_cluster_event
                if exc.reason == "scheduler-connection-lost" and self._client is client:
                    # Start afresh next time: a client that reconnects on its own keeps none of its futures.
                    self._client = None
                    self._spawn(self._quietly_close(client))
                return self._lost(flight, exc, command, submitted)
            except asyncio.CancelledError:  # this task was cancelled: stop the remote one
                await asyncio.shield(self._cancel(client, flight, command, submitted))
                raise
            except KilledWorker:
                return self._worker_lost(flight)
            except Exception as exc:  # the task's function failed: e.g. a worker that cannot import orchrecon
                message = f"the Dask task failed on {flight.worker}: {type(exc).__name__}: {_first_line(exc)}"
                flight.log.line(f"[orchrecon] {message}")
                return failure(message, worker=flight.worker)
            await self._all_output(flight, outcome["chunks"])
            return self._result(flight, outcome, job)
        finally:
            self._flights.pop(flight.key, None)
            if flight.future is not None and not flight.future.done():
                flight.future.release()

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

    def _worker_lost(self, flight: _Flight) -> TaskResult:
        message = flight.lost or (
            f"worker {flight.worker} lost while running the task; Dask does not run it again"
            " (orchrecon retry runs it, if you decide so)"
        )
        flight.log.line(f"[orchrecon] {message}")
        return failure(message, worker=flight.worker)

    def _lost(self, flight: _Flight, exc: FutureCancelledError, command: RemoteCommand, submitted: float) -> TaskResult:
        if flight.lost is not None:  # its worker left (see _on_cluster_event)
            return self._worker_lost(flight)
        if exc.reason != "scheduler-connection-lost":
            message = f"the task was cancelled on the cluster ({exc.reason})"
            flight.log.line(f"[orchrecon] {message}")
            return failure(message, worker=flight.worker)
        message = (
            f"scheduler connection lost; the task may still be running on {flight.worker}"
            " (its configuration stays locked until that worker says it ended or its timeout passes)"
        )
        flight.log.line(f"[orchrecon] {message}")
        hold = _Hold(flight.worker, command, submitted)
        return TaskResult(outcome=Outcome.ERROR, error=message, details={"worker": flight.worker}, hold=hold.wait)

    async def _cancel(self, client: Client, flight: _Flight, command: RemoteCommand, submitted: float) -> None:
        """Kill the remote process group and wait until it is gone; when the cluster cannot say, hold on as
        after a lost connection."""
        try:
            async with asyncio.timeout(self._kill_grace + 5.0):
                await client.run(cancel_command, flight.key, self._kill_grace, workers=[flight.worker])
        except Exception:
            await _Hold(flight.worker, command, submitted).wait()
        finally:
            if flight.future is not None and not flight.future.done():
                with contextlib.suppress(Exception):
                    await flight.future.cancel()
        flight.log.line(f"[orchrecon] cancelled; the process group was killed on {flight.worker}")

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
            if "started" in next_:
                flight.started = True
            elif "data" in next_:
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
            for flight in list(self._flights.values()):
                if flight.worker != address or flight.future is None or flight.future.done():
                    continue
                flight.lost = (
                    f"worker {address} lost while running the task; Dask does not run it again"
                    " (orchrecon retry runs it, if you decide so)"
                    if flight.started
                    else f"worker {address} left before the task started; it did not run"
                )
                self._spawn(flight.future.cancel())

    # -- the cluster -----------------------------------------------------------------------------------

    async def _choose(self, job: TaskJob) -> str:
        """The least loaded worker that runs orchrecon and offers the configuration's resources."""
        await self._connected()
        needed = dict(job.config.run.resources)
        usable = {a: w for a, w in self._workers.items() if w.usable == ""}
        if not usable:
            reasons = sorted({w.usable for w in self._workers.values() if w.usable})
            why = f": {'; '.join(reasons)}" if reasons else ""
            raise ClusterError(f"no Dask worker can take tasks at {_shown(self.address)}{why}")
        await self._look_at_others()
        fitting = [
            ((w.others + w.ours) / max(w.nthreads, 1), random.random(), a)
            for a, w in usable.items()
            if all(w.resources.get(name, 0) >= amount for name, amount in needed.items())
        ]
        if not fitting:
            wanted = ", ".join(f"{n}={v:g}" for n, v in sorted(needed.items()))
            raise ClusterError(f"no Dask worker offers the resources {job.config.ref} needs ({wanted})")
        chosen = min(fitting)[2]  # the least loaded; among equals any, so that clients do not all pick the first
        self._workers[chosen].ours += 1
        return chosen

    def _done_on(self, worker: str) -> None:
        if worker in self._workers:
            self._workers[worker].ours = max(0, self._workers[worker].ours - 1)

    async def _look_at_others(self) -> None:
        """What other clients (reconcilers, `orchrecon run`s sharing the cluster) run on each worker, asked of the
        scheduler at most every OTHERS_SECONDS: a question per task would sit on every task's way to a worker."""
        if time.monotonic() - self._others_at < OTHERS_SECONDS:
            return
        if self._looking is None or self._looking.done():
            self._looking = asyncio.ensure_future(self._ask_for_others())
        await asyncio.shield(self._looking)

    async def _ask_for_others(self) -> None:
        try:
            busy: Mapping[str, list[Any]] = await _scheduler(await self._connected()).processing(workers=None)
        except Exception:
            return  # the placement goes on with what it knows
        self._others_at = time.monotonic()
        for address, worker in self._workers.items():
            worker.others = sum(1 for key in busy.get(address, ()) if key not in self._flights)

    async def _connected(self) -> Client:
        client = self._client
        if client is not None and client.status == "running":
            return client
        if client is not None:  # lost: start afresh (its futures are gone already)
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
            await self._check_scheduler(client)
            client.subscribe_topic(LOG_TOPIC, self._on_output)
            client.subscribe_topic("all", self._on_cluster_event)
            info = await _scheduler(client).identity(n_workers=-1)
            self._workers = {address: _Worker.known_as(w) for address, w in info.get("workers", {}).items()}
            await self._probe(client, list(self._workers))
        except ClusterError as exc:
            self._failed = (time.monotonic(), str(exc))
            await self._quietly_close(client)
            raise
        except Exception as exc:
            reason = f"Dask scheduler {_shown(self.address)}: {_first_line(exc)}"
            self._failed = (time.monotonic(), reason)
            await self._quietly_close(client)
            raise ClusterError(reason) from None
        self._failed = None
        self._client = client
        return client

    async def _check_scheduler(self, client: Client) -> None:
        def allowed_failures(dask_scheduler: Any) -> int:  # local: sent by value, so the scheduler needs no orchrecon
            return int(dask_scheduler.allowed_failures)

        allowed = await client.run_on_scheduler(allowed_failures)
        if allowed != 0:
            raise ClusterError(
                f"the Dask scheduler at {_shown(self.address)} allows {allowed} reruns of a task whose worker"
                " died (distributed.scheduler.allowed-failures); orchrecon runs a task at most once and needs 0:"
                " start the scheduler with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0"
            )

    async def _probe(self, client: Client, addresses: list[str]) -> None:
        """Which workers can run orchrecon's task function (it travels by reference)."""
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

    async def _tree(self, client: Client, job: TaskJob, worker: str) -> tuple[Tree, Future[bytes]]:
        """The run's files, packed once per revision and kept on the cluster for the tasks that follow."""
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
            tree = await asyncio.shield(packing)
        except TreeTooLargeError:
            self._packing.pop(where, None)
            raise
        kept = self._trees.get(tree.key)
        if kept is not None and kept[1].status == "finished":
            return kept
        data = await client.scatter(tree.archive, workers=[worker], hash=False)
        self._trees[tree.key] = (tree, data)
        while len(self._trees) > _TREES_KEPT:
            _, old = self._trees.pop(next(iter(self._trees)))
            old.release()
        return tree, data

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
        host, port = _host_port(self._worker)
        if host is None:
            return False
        try:
            async with asyncio.timeout(2.0):
                _, writer = await asyncio.open_connection(host, port)
            writer.close()
        except ConnectionRefusedError:
            # Nothing listens: the worker is closing or dead. A closing worker stops its commands (within the
            # kill grace); a dead one took them with it (PR_SET_PDEATHSIG).
            await asyncio.sleep(self._grace)
            return True
        except (OSError, TimeoutError):
            return False  # unreachable says nothing: the worker may still run it, and ends it at its timeout
        try:
            async with asyncio.timeout(5.0):
                async with rpc(self._worker) as worker:
                    answer = await worker.run(function=dumps(is_running), args=dumps((self._key,)))
        except Exception:
            return False
        return answer.get("status") == "OK" and answer.get("result") is False


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
