"""Two reconcilers on two "machines" (state directories of their own) sharing one PostgreSQL state database: one
leads, the other stands by; the leader is killed (`kill -9`) or its lock session terminated (`pg_terminate_backend`)
twenty times in turn. Each time the standby leads within 10 s, a deposed leader still running steps down, and no
table update, schedule slot or run is decided or executed twice."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orchrecon.store.postgresql.locks import LEADERSHIP, lock_keys
from tests.backends import ledger_records
from tests.builders import git, small_repo, write
from tests.execution.builders import Lines, wait_until

FAILOVERS = 20
TAKEOVER_SECONDS = 10.0

PROBE = """\
import os, sys, time
with open(sys.argv[1], "a") as f:
    f.write(os.environ["ORCHRECON_RUN_ID"] + "\\n")
time.sleep(float(sys.argv[2]))
"""

CONFIG = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {{component: ex, name: c{n:02d}}}
spec:
  run: {{command: [python, jobs/probe.py, {probes}, "0.4"]}}
"""

TRIGGERED = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: t{n:02d}}}
spec:
  phases:
    - name: main
      tasks: [{{name: work, config: ex/c{n:02d}}}]
  trigger: {{tables: [in.c-ext.t{n:02d}], cooldown: 1h}}
"""

SCHEDULED = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: every-minute}}
spec:
  phases:
    - name: main
      tasks: [{{name: work, config: ex/c00}}]
  schedules: [{{cron: "* * * * *", catchUp: latest}}]
"""


def _repo(root: Path, probes: Path) -> Path:
    write(root, "jobs/probe.py", PROBE)
    for n in range(FAILOVERS + 1):
        write(root, f"configurations/ex/c{n:02d}.yaml", CONFIG.format(n=n, probes=probes))
    for n in range(1, FAILOVERS + 1):
        write(root, f"orchestrations/t{n:02d}.yaml", TRIGGERED.format(n=n))
    write(root, "orchestrations/every-minute.yaml", SCHEDULED.format())
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "twenty triggered orchestrations and one every minute")
    return root


class Machine:
    """A reconciler process with a state directory of its own, as on another host."""

    def __init__(self, repo: Path, state: Path) -> None:
        self.repo, self.state = repo, state
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "reconcile", "--standby"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines = Lines(self.process)

    def leads(self) -> bool:
        return any("  started  " in line for line in self.lines.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.lines.rest(timeout=30)


def _requested(machine: Machine, name: str) -> bool:
    return any("run requested" in line and f"orchestration={name} " in line for line in machine.lines.lines)


def _touch(repo: Path, state: Path, table: str) -> None:
    argv = [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "tables", "touch", table]
    subprocess.run(argv, check=True, capture_output=True)


def _leader_backend(url: str) -> int:
    """The server process of the session holding the leadership lock."""
    first, second = lock_keys(LEADERSHIP)
    query = (
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 2"
    )
    with psycopg.connect(url) as conn:
        row = conn.execute(query, (first & 0xFFFFFFFF, second & 0xFFFFFFFF)).fetchone()
    assert row is not None, "no session holds the leadership lock"
    return int(row[0])


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _summary(records: list[dict[str, Any]]) -> tuple[Counter[str], Counter[str], dict[str, list[str]]]:
    fired = Counter(r["orchestration"] for r in records if r["type"] == "trigger.fired")
    slots = Counter(r["slot"] for r in records if r["type"] == "schedule.fired")
    ends: dict[str, list[str]] = {r["run"]: [] for r in records if r["type"] == "run.requested"}
    for r in records:
        if r["type"] == "run.finished":
            ends[r["run"]].append(r["status"])
    return fired, slots, ends


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_twenty_failovers_decide_and_run_everything_once(backend: str, tmp_path: Path) -> None:
    probes = tmp_path / "probes.txt"
    repo = _repo(tmp_path / "repo", probes)
    leader = Machine(repo, tmp_path / "machine-0")
    wait_until(leader.leads, 15, what="the first reconciler to lead")
    standby = Machine(repo, tmp_path / "machine-1")
    deposed: list[str] = []
    takeovers: list[float] = []
    try:
        for n in range(1, FAILOVERS + 1):
            _touch(repo, leader.state, f"in.c-ext.t{n:02d}")
            wait_until(functools.partial(_requested, leader, f"t{n:02d}"), 15, what=f"t{n:02d}'s run")
            killed = time.monotonic()
            if n % 2:
                leader.process.kill()  # kill -9: its sessions end with it
            else:
                _terminate(backend, _leader_backend(backend))
            wait_until(standby.leads, TAKEOVER_SECONDS, what=f"the standby to lead (failover {n})")
            takeovers.append(time.monotonic() - killed)
            if n % 2 == 0:  # still alive with its old epoch: it must step down by itself
                assert leader.process.wait(timeout=5) == 1  # it learns within a second or two: its watch wakes it
                deposed.append(leader.process.stderr.read() if leader.process.stderr else "")
            leader.stop()
            leader, standby = standby, Machine(repo, tmp_path / f"machine-{n + 1}")
        wait_until(
            lambda: not any(s == [] for s in _summary(ledger_records(leader.state))[2].values()),
            15,
            what="every run's end",
        )
    finally:
        leader.stop()
        standby.stop()
    fired, slots, ends = _summary(ledger_records(leader.state))
    assert fired == Counter({f"t{n:02d}": 1 for n in range(1, FAILOVERS + 1)})
    assert all(count == 1 for count in slots.values()), slots
    twice = {run for run, statuses in ends.items() if len(statuses) != 1}
    shown = [
        {k: r.get(k) for k in ("seq", "time", "type", "task", "status", "reason", "error", "pid")}
        for r in ledger_records(leader.state)
        if r.get("run") in twice
    ]
    assert not twice, "\n".join(map(str, shown))
    ran = Counter(probes.read_text().split())
    assert all(count == 1 for count in ran.values()), ran
    assert set(ran) <= set(ends)
    assert max(takeovers) < TAKEOVER_SECONDS
    assert len(deposed) == FAILOVERS // 2
    wrong = [err for err in deposed if "lost the leadership" not in err or "Traceback" in err]
    assert not wrong, "\n---\n".join(wrong)


def test_a_reconciler_whose_database_is_unreachable_waits_for_it_saying_so(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    repo = small_repo(tmp_path / "repo")
    git(repo, "init", "-q", "-b", "main")
    url = f"postgresql://orchrecon:hunter2@127.0.0.1:{port}/orchrecon"
    process = subprocess.Popen(
        [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(tmp_path / "state"), "reconcile"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ORCHRECON_STATE_URL": url},
    )
    lines = Lines(process)
    try:
        lines.wait_for(r"trying again in 2s", timeout=15)
        assert process.poll() is None  # still waiting, not exited for a supervisor to restart in a loop
    finally:
        process.kill()
    first, second = lines.rest()[:2]
    assert first.startswith(f"orchrecon: cannot connect to postgresql://orchrecon@127.0.0.1:{port}/orchrecon: ")
    assert first.endswith("; trying again in 1s")
    assert second.endswith("; trying again in 2s")
    assert not any("hunter2" in line or "Traceback" in line for line in lines.lines)
