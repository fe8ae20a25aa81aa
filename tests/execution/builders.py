"""Builders for the runner's behaviour tests: a repository whose tasks run a probe job, and the CLI.

Every configuration runs `[python, jobs/probe.py]`. The probe appends JSON lines to `probe.jsonl` at the
repository root (`start` with its environment and process group, `end`, `grandchild`), prints its token,
waits for a gate file if told to, sleeps, and exits with the code its ORCHRECON_PARAMETERS say.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from orchrecon.cli import main
from orchrecon.store.records import encode
from tests.builders import git

PROBE = '''\
"""Test job: records its start and end, waits for a gate, sleeps, exits with the code it is given."""
import json, os, subprocess, sys, time

# PROBE_ROOT: where the tests look, when the job runs in a copy of the repository (a Dask worker's).
ROOT = os.environ.get("PROBE_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMETERS = json.loads(os.environ["ORCHRECON_PARAMETERS"])
TASK = os.environ["ORCHRECON_TASK"]


def record(event, **fields):
    line = {"event": event, "task": TASK, "run": os.environ["ORCHRECON_RUN_ID"], "pid": os.getpid(),
            "wall": time.time(), "mono": time.monotonic(), **fields}
    fd = os.open(os.path.join(ROOT, "probe.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(line) + "\\n").encode())
    finally:
        os.close(fd)


env = {k: v for k, v in os.environ.items() if k.startswith("ORCHRECON_")}
record("start", pgid=os.getpgid(0), env=env)
print("probe", TASK, "has token", os.environ["ORCHRECON_TOKEN"], flush=True)
if PARAMETERS.get("print"):
    print("probe", TASK, "has", PARAMETERS["print"], "=", os.environ.get(PARAMETERS["print"]), flush=True)
if PARAMETERS.get("grandchild"):
    child = subprocess.Popen(["sleep", "30"])
    record("grandchild", child=child.pid)
gate = PARAMETERS.get("gate")
deadline = time.monotonic() + 30
while gate and not os.path.exists(os.path.join(ROOT, gate)) and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(PARAMETERS.get("sleep", 0))
record("end")
code = PARAMETERS.get("exit", 0)
print("probe", TASK, "ends with token", os.environ["ORCHRECON_TOKEN"], "and exit code", code, flush=True)
sys.exit(code)
'''

RUN_ID = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b")
TIME = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DURATION = re.compile(r"(?<![\w.])(\d+\.\ds|\d+m\d\ds|\d+h\d\dm)(?![\w.])")

Task = dict[str, Any]


def task(
    name: str, config: str | None = None, *, continue_on_failure: bool = False, enabled: bool = True, **parameters: Any
) -> Task:
    """A task running configuration `config` (default `ex/NAME`); `parameters` go to the probe (sleep, exit, gate)."""
    spec: Task = {"name": name, "config": config or f"ex/{name}"}
    if continue_on_failure:
        spec["continueOnFailure"] = True
    if not enabled:
        spec["enabled"] = False
    if parameters:
        spec["parameters"] = parameters
    return spec


@dataclass(frozen=True)
class Done:
    code: int
    out: str
    err: str


def alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie waiting for whichever process adopted it is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler installed for `signum` (its SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except (FileNotFoundError, ProcessLookupError):
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) >> (signum - 1) & 1)


def wait_until(predicate: Callable[[], object], timeout: float = 5.0, *, what: str = "the condition") -> None:
    """Poll `predicate` until it is true; fail the test when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.01)


def normalise(text: str, *paths: Path) -> str:
    """`text` with run ids, times, durations and the given paths replaced by placeholders."""
    for path in paths:
        text = text.replace(str(path), f"<{path.name.upper()}>")
    ids: dict[str, str] = {}
    text = RUN_ID.sub(lambda m: ids.setdefault(m.group(), f"<RUN-{len(ids) + 1}>"), text)
    text = TIME.sub("<TIME>", text)
    return DURATION.sub("<DURATION>", text)


@dataclass
class Workspace:
    """A repository under construction, its state directory and the orchrecon processes started on it."""

    root: Path
    state: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)
    env: dict[str, Any] = field(default_factory=dict)  # every configuration's `run.env`
    database: str | None = None  # the PostgreSQL state database's URL (ORCHRECON_STATE_URL), else the state directory

    def only_on_the_state_directory(self, why: str) -> None:
        """Skip this test on the PostgreSQL backend, which has no such thing (`why`)."""
        if self.database is not None:
            pytest.skip(f"the state directory only: {why}")

    # -- the repository ------------------------------------------------------------------------------

    def write(self, rel: str, document: Mapping[str, Any]) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(dict(document), sort_keys=False), encoding="utf-8")

    def configure(
        self,
        ref: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        outputs: Sequence[str] = (),
        timeout: str | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        """Configuration `ref` (component/name) running the probe with `parameters` (default: no sleep, exit 0)."""
        component, name = ref.split("/")
        run: dict[str, Any] = {"command": ["python", "jobs/probe.py"]}
        if self.env:
            run["env"] = dict(self.env)
        if resources:
            run["resources"] = dict(resources)
        if timeout:
            run["timeout"] = timeout
        spec: dict[str, Any] = {"run": run, "parameters": {"sleep": 0, "exit": 0, **(parameters or {})}}
        if outputs:
            spec["outputs"] = list(outputs)
        self.write(
            f"configurations/{component}/{name}.yaml",
            {
                "apiVersion": "orchrecon/v1",
                "kind": "Configuration",
                "metadata": {"component": component, "name": name},
                "spec": spec,
            },
        )

    def orchestrate(self, name: str, phases: Mapping[str, Sequence[Task]], *, max_parallel_jobs: int = 0) -> None:
        """Orchestration `name` with `phases` in order; configurations it names that do not exist yet are made."""
        for t in (t for tasks in phases.values() for t in tasks):
            if not (self.root / "configurations" / f"{t['config']}.yaml").exists():
                self.configure(t["config"])
        if max_parallel_jobs:
            self.write(
                "orchrecon.yaml",
                {"apiVersion": "orchrecon/v1", "kind": "Project", "spec": {"maxParallelJobs": max_parallel_jobs}},
            )
        self.write(
            f"orchestrations/{name}.yaml",
            {
                "apiVersion": "orchrecon/v1",
                "kind": "Orchestration",
                "metadata": {"name": name},
                "spec": {"phases": [{"name": p, "tasks": list(tasks)} for p, tasks in phases.items()]},
            },
        )

    def commit(self) -> str:
        """Commit the repository as it is (the probe's records ignored); returns the commit id."""
        (self.root / ".gitignore").write_text("probe.jsonl\n", encoding="utf-8")
        if not (self.root / ".git").exists():
            git(self.root, "init", "-q", "-b", "main")
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "change")
        return git(self.root, "rev-parse", "HEAD").strip()

    def release(self, gate: str) -> None:
        """Let the probes waiting for `gate` go on."""
        (self.root / gate).touch()

    # -- the command line ----------------------------------------------------------------------------

    def argv(self, *args: str, state: Path | None = None) -> list[str]:
        state = state or self.state
        return [sys.executable, "-m", "orchrecon", "-C", str(self.root), "--state-dir", str(state), *args]

    @property
    def other_machine(self) -> Path:
        """The state directory of a process on another machine: on the PostgreSQL backend, one of its own
        (sharing only the database); on the state directory, the same one (which is what it shares)."""
        return self.state if self.database is None else self.root.parent / "other-machine"

    def orchrecon(self, *args: str, timeout: float = 20) -> Done:
        """Run an orchrecon command to its end."""
        done = subprocess.run(
            self.argv(*args), check=False, capture_output=True, text=True, env=_environ(), timeout=timeout
        )
        return Done(done.returncode, done.stdout, done.stderr)

    def inspect(self, *args: str) -> Done:
        """Run a command that only reads runs (`show`, `runs`, `logs`) through the same entry point, in this process."""
        assert args[0] in ("show", "runs", "logs"), args
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["-C", str(self.root), "--state-dir", str(self.state), *args])
        return Done(code, out.getvalue(), err.getvalue())

    def start(
        self,
        *args: str,
        stdout: int = subprocess.PIPE,
        env: Mapping[str, str] | None = None,
        state: Path | None = None,
    ) -> subprocess.Popen[str]:
        """Start an orchrecon command in the background (`env` added to its environment; on the state directory
        `state`, else the workspace's, and working there); `finish` collects it, `close` kills what is left."""
        cwd = None if state is None else state.parent
        process = subprocess.Popen(
            self.argv(*args, state=state),
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            env={**_environ(), **(env or {})},
            cwd=cwd,
        )
        self.processes.append(process)
        return process

    def start_stuck(self, *args: str) -> tuple[subprocess.Popen[str], Callable[[], None]]:
        """Start an orchrecon command whose stdout is a full pipe, so that it blocks in its first line of
        output; calling the function returned lets it go on (its output is read and dropped from then on)."""
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        with suppress(BlockingIOError):
            while True:
                os.write(write_end, b"x" * 4096)
        os.set_blocking(write_end, True)  # the flag is shared with the process's stdout
        try:
            process = self.start(*args, stdout=write_end)
        finally:
            os.close(write_end)

        def drain() -> None:
            with os.fdopen(read_end, "rb") as f:
                while f.read(65536):
                    pass

        return process, lambda: threading.Thread(target=drain, daemon=True).start()

    @staticmethod
    def finish(process: subprocess.Popen[str], timeout: float = 10) -> Done:
        out, err = process.communicate(timeout=timeout)
        return Done(process.returncode, out, err)

    def run(self, name: str, *args: str) -> tuple[str, Done]:
        """`orchrecon run NAME ARGS…` to its end: the new run's id and the command's result."""
        done = self.orchrecon("run", name, *args)
        match = RUN_ID.search(done.out)
        assert match, f"no run id in the output of run (exit {done.code}): {done.out}{done.err}"
        return match.group(), done

    # -- what happened -------------------------------------------------------------------------------

    def requested(self) -> list[str]:
        """The ids of the runs requested so far, in request order (read from the ledger)."""
        return [r["run"] for r in self.ledger() if r["type"] == "run.requested"]

    def probes(self, run_id: str | None = None, event: str | None = None) -> list[dict[str, Any]]:
        """The probe's records, in the order written, optionally of one run and one event."""
        try:
            lines = (self.root / "probe.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
        except FileNotFoundError:
            return []
        records = [json.loads(line) for line in lines]  # whole lines: one being written is left out
        return [r for r in records if run_id in (None, r["run"]) and event in (None, r["event"])]

    def started(self, task_name: str, run_id: str | None = None) -> dict[str, Any] | None:
        return next((r for r in self.probes(run_id, "start") if r["task"] == task_name), None)

    def ran(self, run_id: str) -> set[str]:
        """The tasks of run `run_id` whose probe started."""
        return {r["task"] for r in self.probes(run_id, "start")}

    def segment(self) -> Path:
        (path,) = sorted((self.state / "ledger").glob("*.jsonl"))
        return path

    def ledger_bytes(self) -> bytes:
        """The ledger as JSONL: the segment, or the table's records as `ledger export` writes them."""
        if self.database is None:
            return self.segment().read_bytes()
        return b"".join(encode(record) for record in self.ledger())

    def ledger(self) -> list[dict[str, Any]]:
        """Every whole record of the ledger (a line being appended right now is left out)."""
        if self.database is not None:
            with psycopg.connect(self.database) as conn:
                return [json.loads(row[0]) for row in conn.execute(_TABLE)]
        if not list((self.state / "ledger").glob("*.jsonl")):
            return []  # nothing recorded yet
        return [json.loads(line) for line in self.segment().read_bytes().split(b"\n")[:-1]]

    def show(self, run_id: str) -> dict[str, Any]:
        done = self.inspect("show", run_id, "--format", "json")
        assert done.code == 0, done.err
        data: dict[str, Any] = json.loads(done.out)
        return data

    def runs(self, *args: str) -> list[dict[str, Any]]:
        done = self.inspect("runs", "--format", "json", *args)
        assert done.code == 0, done.err
        runs: list[dict[str, Any]] = json.loads(done.out)["runs"]
        return runs

    def close(self) -> None:
        """Kill what a test left running: the orchrecon processes it started, then whatever still runs in the
        repository (tasks of a killed run and their children; nothing else has its working directory there)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
        root = self.root.resolve()
        for entry in Path("/proc").iterdir():
            with suppress(OSError, ValueError):
                if entry.name.isdigit() and (entry / "cwd").readlink() == root:
                    os.kill(int(entry.name), signal.SIGKILL)


class Lines:
    """The lines a running process prints, read in a thread so that a test can wait for one."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._process = process
        self._stream = process.stdout
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 10.0) -> str:
        """The first line matching the regular expression `pattern`, once printed."""
        found: list[str] = []

        def seen() -> bool:
            found[:] = [line for line in list(self.lines) if re.search(pattern, line)][:1]
            return bool(found)

        try:
            wait_until(seen, timeout, what=f"a line matching {pattern!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the lines so far: {self.lines}") from None
        return found[0]

    def rest(self, timeout: float = 10.0) -> list[str]:
        """Every line, once the process has ended (its pipes are closed then)."""
        self._reader.join(timeout)
        assert not self._reader.is_alive(), "the process did not close its output"
        self._process.wait(timeout)
        self._stream.close()
        if self._process.stderr is not None:
            self._process.stderr.close()
        return list(self.lines)


def statuses(run: Mapping[str, Any]) -> dict[str, str]:
    """`show --format json` of a run as {phase or task name: status}, with the run's own under `run`."""
    result = {"run": run["status"]}
    for phase in run["phases"]:
        result[phase["name"]] = phase["status"]
        result.update({t["name"]: t["status"] for t in phase["tasks"]})
    return result


_TABLE = "SELECT record::text FROM orchrecon.ledger ORDER BY seq"


def workspace(tmp_path: Path, database: str | None = None) -> Iterator[Workspace]:
    """A workspace with the probe job in place; everything it started is killed afterwards. With `database`
    (a migrated state database, named by ORCHRECON_STATE_URL already), its ledger and locks are there."""
    (tmp_path / "repo" / "jobs").mkdir(parents=True)
    (tmp_path / "repo" / "jobs" / "probe.py").write_text(PROBE, encoding="utf-8")
    ws = Workspace(root=tmp_path / "repo", state=tmp_path / "state", database=database)
    try:
        yield ws
    finally:
        ws.close()


def _environ() -> dict[str, str]:
    # HOME is a temporary folder (tests/conftest.py); without the system git config `by` stays empty.
    return {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "PYTHONDONTWRITEBYTECODE": "1"}


REVISION = re.compile(r"\b[0-9a-f]{12}(?:[0-9a-f]{28})?\b")
REPORT_TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d(?:\.\d{3})?)?(?:Z| [+-]\d\d:\d\d)?")


def normalise_report(text: str) -> str:
    """`normalise`d report text with revisions and the reports' own time formats replaced too."""
    text = REVISION.sub("<REVISION>", text)
    return REPORT_TIME.sub("<TIME>", text)
