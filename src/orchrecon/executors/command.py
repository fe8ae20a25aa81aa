"""Run a configuration's `run.command` as a process group, its output redacted into the task log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from orchrecon.executors import MissingSecretError, Outcome, TaskJob, TaskResult
from orchrecon.executors.environment import Redactor, resolve_env, secret_values, to_json
from orchrecon.executors.results import ERROR_EXCERPT_CHARS, excerpt, failure, timed_out
from orchrecon.executors.tasklog import DEFAULT_CAP, DEFAULT_KEEP, TaskLog

_GROUP_POLL = 0.02  # seconds between checks whether a signalled process group is gone
# As in an activated virtualenv, `python` in a command means the interpreter orchrecon runs on, so jobs
# get the same Python and installed packages wherever orchrecon is deployed.
INTERPRETER_DIR = str(Path(sys.executable).parent)


def task_variables(job: TaskJob) -> dict[str, str]:
    """orchrecon's own variables of a task's process, wherever it runs."""
    return {
        "ORCHRECON_RUN_ID": job.run_id,
        "ORCHRECON_ORCHESTRATION": job.orchestration,
        "ORCHRECON_TASK": job.task,
        "ORCHRECON_CONFIG": job.config.ref,
        "ORCHRECON_PARAMETERS": to_json(job.parameters),
        "ORCHRECON_TOKEN": job.token,
    }


def command_environment(job: TaskJob, configured: Mapping[str, str]) -> dict[str, str]:
    """The process environment: job.environ, then the configured env, then orchrecon's own variables."""
    env = {**job.environ, **configured, **task_variables(job)}
    env["PATH"] = os.pathsep.join([INTERPRETER_DIR, env.get("PATH", os.defpath)])
    return env


class CommandExecutor:
    """Runs `config.run.command` (an argv, never a shell) in its own session and process group.

    stdout and stderr go, merged and with the token and `fromEnv` secrets redacted, to `job.log_path`, capped
    at `log_cap` bytes keeping the last `log_keep`. On timeout or cancellation the whole group gets SIGTERM and,
    `kill_grace` seconds later, SIGKILL; processes the command leaves behind in its group when it exits get the
    same treatment, so a background child cannot hold the task (or the pipe) open.
    """

    def __init__(self, *, kill_grace: float = 5.0, log_cap: int = DEFAULT_CAP, log_keep: int = DEFAULT_KEEP) -> None:
        self._kill_grace = kill_grace
        self._log_cap, self._log_keep = log_cap, log_keep
        self._base: Mapping[str, str] | None = None
        self._base_encoded: dict[bytes, bytes] = {}

    def _encoded(self, env: Mapping[str, str], base: Mapping[str, str]) -> dict[bytes, bytes]:
        """`env` as bytes, reusing the encoding of the entries it shares with `base` (the same for every
        task): encoding a hundred variables on every start cost more than spawning the process."""
        if base is not self._base:
            self._base, self._base_encoded = base, {os.fsencode(k): os.fsencode(v) for k, v in base.items()}
        encoded = dict(self._base_encoded)
        for key, value in env.items():
            if base.get(key) is not value:
                encoded[os.fsencode(key)] = os.fsencode(value)
        return encoded

    async def run(self, job: TaskJob) -> TaskResult:
        spec = job.config.run
        if not spec.command:
            return failure(f"configuration {job.config.ref} has no run.command")
        secrets = [job.token, *secret_values(spec.env, job.environ)]
        with TaskLog(job.log_path, Redactor(secrets), cap=self._log_cap, keep=self._log_keep) as log:
            try:
                env = command_environment(job, resolve_env(spec.env, job.environ))
            except MissingSecretError as exc:
                log.line(f"[orchrecon] {exc}")
                return failure(str(exc))
            cwd = job.repo_root / spec.cwd if spec.cwd else job.repo_root
            if not cwd.is_dir():
                log.line(f"[orchrecon] working directory {spec.cwd!r} does not exist")
                return failure(f"working directory {spec.cwd!r} does not exist")
            loop = asyncio.get_running_loop()
            try:
                transport, output = await loop.subprocess_exec(
                    lambda: _Output(log, loop),
                    *spec.command,
                    cwd=cwd,
                    env=self._encoded(env, job.environ),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                message = f"cannot start {spec.command[0]!r}: {exc.strerror or exc}"
                log.line(f"[orchrecon] {message}")
                return failure(message)
            try:
                returncode = await self._supervise(transport, output, spec.timeout.total_seconds())
            except asyncio.CancelledError:
                log.line("[orchrecon] cancelled; the process group was killed")
                raise
            finally:
                transport.close()
            if returncode is None:
                result = timed_out(spec.timeout)
                log.line(f"[orchrecon] {result.error}; the process group was killed")
                return result
            return exit_result(returncode, log)

    async def _supervise(self, transport: asyncio.SubprocessTransport, output: _Output, timeout: float) -> int | None:
        """The command's return code, or None when it timed out. Its process group is gone on return."""
        try:
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(output.exited)
            except TimeoutError:
                await self._stop(transport, output)
                return None
            await self._stop(transport, output)
            return transport.get_returncode()
        except BaseException:
            # Cancelled (or a bug): the group must not outlive the task. Shielded so that a second
            # cancellation cannot interrupt the kill half way.
            await asyncio.shield(self._stop(transport, output))
            raise

    async def _stop(self, transport: asyncio.SubprocessTransport, output: _Output) -> None:
        """Stops what is left of the process group, then waits for the leader and the end of its output."""
        await self._stop_group(transport.get_pid())
        if output.exited.done() and output.closed.done():
            return  # the usual end: nothing left to wait for
        await asyncio.shield(output.exited)
        # The pipe closes when its last holder exits; one that escaped the group (setsid) could hold it forever.
        try:
            async with asyncio.timeout(max(self._kill_grace, 1.0)):
                await asyncio.shield(output.closed)
        except TimeoutError:
            output.log.line("[orchrecon] stopped reading output: a process outside the task's group holds it open")

    async def _stop_group(self, pgid: int) -> None:
        """SIGTERM to the group, then SIGKILL to whatever is left after the grace period.

        The group id is the leader's pid, which the kernel does not hand out again while any member lives; once
        the group is empty the signal finds nobody (ESRCH) and nothing more is sent.
        """
        if not signal_group(pgid, signal.SIGTERM):
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._kill_grace
        while loop.time() < deadline:
            await asyncio.sleep(_GROUP_POLL)
            if not signal_group(pgid, 0):
                return
        signal_group(pgid, signal.SIGKILL)


def exit_result(returncode: int, log: TaskLog) -> TaskResult:
    """How a command that exited with `returncode` went, its last line of output in the error."""
    if log.fault is not None:
        return failure(log.fault.reason)
    if returncode == 0:
        return TaskResult(outcome=Outcome.SUCCESS, exit_code=0)
    if returncode < 0:
        error, exit_code, details = f"killed by signal {-returncode}", None, {"signal": -returncode}
    else:
        error, exit_code, details = f"exited with code {returncode}", returncode, {}
    last = log.last_line()
    if last:
        error = f"{error}: {excerpt(last, ERROR_EXCERPT_CHARS)}"
    return failure(error, exit_code=exit_code, **details)


class _Output(asyncio.SubprocessProtocol):
    """Feeds the merged output into the log and tells when the leader exited and when the pipe closed.

    A protocol rather than `asyncio.subprocess.Process`, whose `wait()` returns only once the pipe is closed:
    a background child holding it would hide that the command itself has ended.
    """

    def __init__(self, log: TaskLog, loop: asyncio.AbstractEventLoop) -> None:
        self.log = log
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        self.log.feed(bytes(data))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.log.end_stream()
        if not self.closed.done():
            self.closed.set_result(None)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` (0: only check) to the group; False when no process is left in it."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member we may not signal (it changed its user) still counts as present.
        return True
    return True
