"""Every command from an empty folder with only ORCHRECON_STATE_DIR set, as `docker exec` in the container
runs them: against a state directory that a real `reconcile --git <bare remote> --once` filled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.builders import git, small_repo, write
from tests.execution.builders import Done, wait_until

HELLO = """\
import os, sys
print("hello", open(os.path.join("jobs", "version.txt")).read().strip(), "in", os.getcwd())
"""
WAIT = """\
import os, time
deadline = time.monotonic() + 30
while not os.path.exists(os.environ["GATE"]) and time.monotonic() < deadline:
    time.sleep(0.01)
"""
SLOW_CONFIG = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {component: ex, name: slow}
spec:
  run: {command: [python, jobs/wait.py]}
"""
SLOW = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: slow}
spec:
  phases: [{name: main, tasks: [{name: wait, config: ex/slow}]}]
"""


def _paths(text: str, tmp: Path) -> str:
    return text.replace(str(tmp), "<TMP>")


@dataclass
class Container:
    """A bare remote, a clone pushing to it, a state directory its reconciler fills, and an empty folder."""

    tmp: Path
    clone: Path
    state: Path
    empty: Path

    def env(self, state: Path | None = None) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.tmp / "home"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "ORCHRECON_STATE_DIR": str(state or self.state),
            "GATE": str(self.tmp / "gate"),
        }

    def orchrecon(self, *args: str, state: Path | None = None) -> Done:
        done = subprocess.run(
            [sys.executable, "-m", "orchrecon", *args],
            cwd=self.empty,
            env=self.env(state),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        return Done(done.returncode, done.stdout, done.stderr)

    def json(self, *args: str) -> Any:
        done = self.orchrecon(*args, "--format", "json")
        assert done.code == 0, done.err
        return json.loads(done.out)

    def push(self, version: str) -> str:
        write(self.clone, "jobs/version.txt", version + "\n")
        git(self.clone, "add", "-A")
        git(self.clone, "commit", "-qm", version)
        git(self.clone, "push", "-q", "origin", "main")
        return git(self.clone, "rev-parse", "HEAD").strip()

    def started(self) -> str | None:
        """The id of the first run the ledger records started (whole lines only)."""
        lines = b"".join(p.read_bytes() for p in sorted((self.state / "ledger").glob("*.jsonl"))).split(b"\n")[:-1]
        return next((r["run"] for r in map(json.loads, lines) if r["type"] == "run.started"), None)

    def reconcile(self) -> None:
        done = self.orchrecon("reconcile", "--git", str(self.tmp / "remote.git"), "--once")
        assert done.code == 0, done.err


@pytest.fixture
def box(tmp_path: Path) -> Container:
    remote, clone = tmp_path / "remote.git", tmp_path / "clone"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    small_repo(clone)
    write(
        clone,
        "configurations/ex/a.yaml",
        (clone / "configurations/ex/a.yaml")
        .read_text()
        .replace("""[python, -c, "print('ok')"]""", "[python, jobs/hello.py]"),
    )
    write(clone, "jobs/hello.py", HELLO)
    write(clone, "jobs/wait.py", WAIT)
    write(clone, "configurations/ex/slow.yaml", SLOW_CONFIG)
    write(clone, "orchestrations/slow.yaml", SLOW)
    git(clone, "init", "-q", "-b", "main")
    git(clone, "remote", "add", "origin", str(remote))
    (tmp_path / "home").mkdir()
    (tmp_path / "empty").mkdir()
    container = Container(tmp=tmp_path, clone=clone, state=tmp_path / "state", empty=tmp_path / "empty")
    container.push("v1")
    container.reconcile()
    return container


def test_read_only_commands_work_from_the_state_directory_alone(box: Container) -> None:
    assert box.json("runs") == {"runs": []}
    plan = box.orchrecon("plan")
    assert plan.code == 0
    assert [line for line in plan.out.splitlines() if not line.startswith(" ")] == ["daily", "", "slow"]
    revision = git(box.clone, "rev-parse", "HEAD").strip()
    assert (
        plan.err
        == f"orchrecon: no repository here: definitions as the reconciler applied them (revision {revision[:12]})\n"
    )
    tables = {row["table"]: row["writtenBy"] for row in box.json("tables", "list")["tables"]}
    assert tables == {"in.c-ex.a": ["ex/a"]}
    assert box.orchrecon("health").code == 1  # the --once reconciler has stopped, and says so
    assert list(box.empty.iterdir()) == []


def test_run_and_retry_use_the_applied_revision_in_a_temporary_work_tree(box: Container) -> None:
    applied = git(box.clone, "rev-parse", "HEAD").strip()
    box.push("v2")  # pushed, not reconciled yet: runs stay on the applied revision
    done = box.orchrecon("run", "daily")
    assert done.code == 0, done.err
    assert done.out.splitlines()[0] == (
        f"no repository here: revision {applied[:12]} of {box.state}/source/mirror.git, in a temporary work tree"
    )
    (run,) = box.json("runs")["runs"]
    shown = box.json("show", run["id"])
    assert (shown["status"], shown["revision"], shown["dirty"]) == ("success", applied, False)
    log = (box.state / "logs" / run["id"] / "first.log").read_text().split()
    assert log[:2] == ["hello", "v1"]
    assert not Path(log[3]).exists()  # the temporary work tree is gone
    box.reconcile()
    retried = box.orchrecon("retry", run["id"])
    assert retried.code == 0, retried.err
    assert f"revision {applied[:12]}" in retried.out.splitlines()[0]  # a retry reruns the recorded revision
    current = box.orchrecon("retry", run["id"], "--current")
    assert current.code == 0, current.err
    newest = box.json("runs", "--limit", "1")["runs"][0]["id"]
    assert box.json("show", newest)["revision"] == git(box.clone, "rev-parse", "HEAD").strip()
    assert list(box.empty.iterdir()) == []


def test_cancel_tables_touch_and_tokens_from_the_state_directory(box: Container) -> None:
    slow = subprocess.Popen(
        [sys.executable, "-m", "orchrecon", "run", "slow"], cwd=box.empty, env=box.env(), stdout=subprocess.PIPE
    )
    try:
        wait_until(lambda: box.started() is not None, 20, what="the run to start")
        run = box.started()
        assert run is not None
        cancel = box.orchrecon("cancel", run)
        assert (cancel.code, cancel.out) == (0, f"run {run} terminated\n")
    finally:
        slow.communicate(timeout=30)
    assert slow.returncode == 1
    touched = box.json("tables", "touch", "in.c-ext.b")["updated"]
    assert [t["table"] for t in touched] == ["in.c-ext.b"]
    assert box.orchrecon("tokens", "rotate", "daily").code == 0
    assert box.orchrecon("tokens", "rotate", "nope").code == 2


def test_validate_says_it_needs_a_repository(box: Container, snapshot: SnapshotAssertion) -> None:
    done = box.orchrecon("validate")
    assert (done.code, done.out) == (2, "")
    assert done.err == snapshot


@pytest.mark.parametrize("command", [["runs"], ["show", "20260101-000000-abcdef"], ["plan"], ["tables", "list"]])
def test_a_read_only_command_on_a_missing_state_directory_creates_nothing(
    box: Container, command: list[str], snapshot: SnapshotAssertion
) -> None:
    missing = box.tmp / "missing"
    done = box.orchrecon(*command, state=missing)
    assert (done.code, done.out) == (2, "")
    assert _paths(done.err, box.tmp) == snapshot
    assert not missing.exists()


def test_a_state_directory_whose_parent_is_missing_is_refused(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    repo = small_repo(tmp_path / "repo")
    argv = [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(tmp_path / "typo" / "state")]
    done = subprocess.run([*argv, "tables", "touch", "a"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert _paths(done.stderr, tmp_path) == snapshot
    assert not (tmp_path / "typo").exists()


def test_without_a_mirror_definitions_name_the_checkout_the_reconciler_follows(
    box: Container, snapshot: SnapshotAssertion
) -> None:
    local = box.tmp / "local-state"
    git(box.tmp, "clone", "-q", str(box.tmp / "remote.git"), str(box.tmp / "checkout"))
    follow = subprocess.run(
        [sys.executable, "-m", "orchrecon", "reconcile", "--once"],
        cwd=box.tmp / "checkout",
        env=box.env(local),
        capture_output=True,
        check=False,
    )
    assert follow.returncode == 0
    runs = box.orchrecon("runs", state=local)
    assert runs.code == 0
    done = box.orchrecon("plan", state=local)
    assert (done.code, done.out) == (2, "")
    assert _paths(done.err, box.tmp) == snapshot


def test_a_run_of_a_revision_the_mirror_lacks_is_not_retried_without_its_repository(
    box: Container, snapshot: SnapshotAssertion
) -> None:
    write(box.clone, "jobs/version.txt", "local\n")
    git(box.clone, "commit", "-qam", "not pushed")
    local = git(box.clone, "rev-parse", "HEAD").strip()
    argv = [sys.executable, "-m", "orchrecon", "-C", str(box.clone), "run", "daily"]
    ran = subprocess.run(argv, env=box.env(), capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    (run,) = box.json("runs")["runs"]
    done = box.orchrecon("retry", run["id"])
    assert (done.code, done.out) == (2, "")
    assert _paths(done.err.replace(local[:12], "<LOCAL>"), box.tmp) == snapshot
    assert len(box.json("runs")["runs"]) == 1


def test_applied_definitions_outlive_a_newer_revision_lost_from_the_mirror(box: Container) -> None:
    applied = git(box.clone, "rev-parse", "HEAD").strip()
    write(box.clone, "orchestrations/daily.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\n")
    write(box.clone, "orchestrations/slow.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\n")
    broken = box.push("broken")  # reconciled, applied by nothing, so nothing pins it
    box.reconcile()
    plan = box.orchrecon("plan")
    assert plan.code == 1  # the newest revision's errors are the plan's
    assert "orchestrations/daily.yaml:1:1: error: missing required property 'metadata' [$]" in plan.err
    mirror = box.state / "source" / "mirror.git"
    git(mirror, "update-ref", "-d", "refs/remotes/origin/main")
    git(mirror, "reflog", "expire", "--expire=now", "--all")
    git(mirror, "gc", "-q", "--prune=now")
    lost = subprocess.run(["git", "cat-file", "-e", broken], cwd=mirror, capture_output=True, check=False)
    assert lost.returncode != 0
    plan = box.orchrecon("plan")
    assert plan.code == 0, plan.err
    assert [line for line in plan.out.splitlines() if not line.startswith(" ")] == ["daily", "", "slow"]
    ran = box.orchrecon("run", "daily")
    assert ran.code == 0, ran.err
    assert f"revision {applied[:12]}" in ran.out.splitlines()[0]
