"""Faults of the state directory's file system: a full disk, `ulimit -f`, an immutable or read-only ledger.

Each write that fails is one line naming the file and the cause, exit 1; a run cut short is recorded with
that cause once the ledger takes records again, never with a made-up one; commands that only read go on.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.execution import builders
from tests.execution.builders import Done, Workspace, group_alive, normalise, task, wait_until

READING = (("runs",), ("plan",), ("tables", "list"))  # commands that only read, besides `show RUN`


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


def file_size_limit(limit: int) -> Callable[[], None]:
    """For `preexec_fn`: `ulimit -f` for the child, with SIGXFSZ ignored so that a write past the limit
    fails with EFBIG rather than killing it (CPython ignores it at start anyway). Mid-run, the tests lower
    the limit of the running process with `prlimit`, which is what `ulimit -f` is in the shell that runs it."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def under_limit(ws: Workspace, limit: int, *args: str) -> Done:
    done = subprocess.run(
        ws.argv(*args),
        check=False,
        capture_output=True,
        text=True,
        env=builders._environ(),
        timeout=30,
        preexec_fn=file_size_limit(limit),
    )
    return Done(done.returncode, done.stdout, done.stderr)


def one_line(ws: Workspace, done: Done) -> str:
    """The command's error: exactly one line on stderr, temporary paths and ids replaced."""
    assert done.code == 1, (done.code, done.out, done.err)
    lines = done.err.splitlines()
    assert len(lines) == 1, done.err
    assert "Traceback" not in done.err
    assert "internal error" not in done.err
    return normalise(lines[0], ws.state)


def two_phase_run(ws: Workspace) -> tuple[subprocess.Popen[str], str, int]:
    """A run whose phase one has `a` (waits for `go`) and `b` (waits for ever), and a phase two `c`, started and
    left with both tasks running: (the process, the run id, b's process group)."""
    ws.orchestrate("daily", {"one": [task("a", gate="go"), task("b", gate="never")], "two": [task("c")]})
    process = ws.start("run", "daily")
    wait_until(lambda: ws.started("a") and ws.started("b"), timeout=15, what="both tasks")
    b = ws.started("b")
    assert b is not None
    wait_until(lambda: sum(r["type"] == "task.started" for r in ws.ledger()) == 2, what="both task.started records")
    return process, b["run"], b["pgid"]


def reason_of(ws: Workspace, run_id: str) -> tuple[str, str]:
    done = ws.orchrecon("show", run_id, "--format", "json")
    assert done.code == 0, done.err
    run = json.loads(done.out)
    return run["status"], normalise(run.get("reason") or "", ws.state)


def run_records(ws: Workspace, run_id: str) -> list[str]:
    return [r["type"] for r in ws.ledger() if r.get("run") == run_id]


def leftover_locks(ws: Workspace) -> list[str]:
    return sorted(p.name for p in (ws.state / "locks").glob("run.*.lock"))


# -- ulimit -f -----------------------------------------------------------------------------------------


def test_a_limit_below_the_ledger_refuses_run_and_touch_in_one_line(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    for _ in range(3):
        assert ws.orchrecon("run", "daily").code == 0
    before = ws.segment().read_bytes()
    limit = len(before) - 10
    assert limit > 4096  # room for the lock files and logs; only the ledger is beyond it
    messages = [one_line(ws, under_limit(ws, limit, *args)) for args in (("run", "daily"), ("tables", "touch", "t"))]
    assert messages == snapshot
    assert ws.segment().read_bytes() == before
    assert leftover_locks(ws) == []
    assert [r["status"] for r in ws.runs()] == ["success"] * 3


def test_reading_commands_work_under_a_limit_below_every_file(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    run_id, _ = ws.run("daily")
    assert ws.orchrecon("tables", "touch", "t").code == 0  # the index is behind: the readers must catch up
    index = (ws.state / "index.sqlite").read_bytes()
    for args in (*READING, ("show", run_id)):
        done = under_limit(ws, 512, *args)
        assert (done.code, done.err) == (0, ""), args
    assert "t  " in under_limit(ws, 512, "tables", "list").out
    assert (ws.state / "index.sqlite").read_bytes() == index


def test_a_limit_reached_mid_run_stops_its_tasks_and_records_the_cause_afterwards(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    process, run_id, pgid = two_phase_run(ws)
    before = ws.segment().read_bytes()
    limit = len(before) + 20  # far less than a.task.finished needs
    resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (limit, limit))
    ws.release("go")
    done = ws.finish(process, timeout=30)
    assert one_line(ws, done) == snapshot(name="message")
    assert not group_alive(pgid), "b's process group outlived the run"
    assert ws.started("c") is None, "phase two started after the ledger refused a record"
    assert ws.segment().read_bytes() == before  # nothing recorded after the refused record, no half line
    assert run_records(ws, run_id)[-1] == "task.started"
    assert reason_of(ws, run_id) == snapshot(name="recorded")  # this command's recovery records it
    assert run_records(ws, run_id)[-1] == "run.finished"
    assert leftover_locks(ws) == []


# -- a full file system ----------------------------------------------------------------------------------


@contextmanager
def mounted(kind: str, target: Path, *options: str) -> Iterator[None]:
    """`mount` onto `target`, unmounted afterwards; skips the test where mounting is not permitted."""
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *options, "-t", kind, kind, str(target)], check=False, capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount {kind} here: {done.stderr.decode().strip() or done.returncode}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def fill(folder: Path) -> Path:
    """Fill the file system of `folder` up; returns the filler file to delete for space again."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with suppress(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    return filler


def touch_until_full(ws: Workspace) -> Done:
    """Append table updates until the ledger's last block is full too, with ever shorter records so that
    not even a small record of a run fits in what is left; the first failed touch's result."""
    failed: Done | None = None
    for length in (190, 60, 1):
        for _ in range(40):
            done = ws.orchrecon("tables", "touch", "t" * length)
            if done.code != 0:
                failed = failed or done
                break
        else:
            raise AssertionError("the ledger never filled up")
    assert failed is not None
    return failed


def test_a_full_file_system_mid_run_is_named_reading_goes_on_and_space_back_records_the_cause(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    with mounted("tmpfs", ws.state, "-o", "size=1m"):
        process, run_id, pgid = two_phase_run(ws)
        filler = fill(ws.state)
        touched = touch_until_full(ws)
        before = ws.segment().read_bytes()
        ws.release("go")
        done = ws.finish(process, timeout=30)
        assert [one_line(ws, touched), one_line(ws, done)] == snapshot(name="messages")
        assert not group_alive(pgid)
        assert ws.started("c") is None
        after = ws.segment().read_bytes()
        assert after.startswith(before)
        # Stopping frees the blocks of the run's lock files (they name their holder), and the end may fit
        # there: then the process records it itself, with the cause. Nothing else of the run is recorded.
        ended_here = [json.loads(line)["type"] for line in after[len(before) :].splitlines()]
        assert ended_here in ([], ["run.finished"])
        for args in (*READING, ("show", run_id)):
            reading = ws.orchrecon(*args)
            assert (reading.code, reading.err) == (0, ""), args
        if not ended_here:
            assert reason_of(ws, run_id) == ("processing", "")  # the truth so far: its end is not recorded
            assert run_records(ws, run_id)[-1] == "task.started"
        filler.unlink()
        assert reason_of(ws, run_id) == snapshot(name="recorded")
        assert leftover_locks(ws) == []


def test_a_run_on_a_full_file_system_is_refused_before_anything_is_recorded(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    with mounted("tmpfs", ws.state, "-o", "size=1m"):
        assert ws.orchrecon("run", "daily").code == 0
        fill(ws.state)
        touch_until_full(ws)
        before = ws.segment().read_bytes()
        assert one_line(ws, ws.orchrecon("run", "daily")) == snapshot
        assert ws.segment().read_bytes() == before
        assert leftover_locks(ws) == []
        assert ws.orchrecon("runs").code == 0


# -- an immutable or read-only state directory ---------------------------------------------------------------


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`chattr +i path`, undone afterwards; skips the test where the file system has no such attribute."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    done = subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """`folder` bind-mounted onto itself read-only (chmod does not stop root), undone afterwards."""
    done = subprocess.run(["mount", "--bind", str(folder), str(folder)], check=False, capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode().strip()}")
    try:
        done = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=False, capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {done.stderr.decode().strip()}")
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=False, capture_output=True)


def a_finished_run(ws: Workspace) -> str:
    ws.orchestrate("daily", {"one": [task("a")]})
    run_id, done = ws.run("daily")
    assert done.code == 0, done.err
    (ws.state / "index.sqlite").unlink()  # so the reading commands below would have to write a new one
    for folder in ("status", "reports"):
        shutil.rmtree(ws.state / folder)  # nor create these (the run wrote its report), which they do not need
    return run_id


def reads_everything(ws: Workspace, run_id: str) -> None:
    for args in (*READING, ("show", run_id)):
        done = ws.orchrecon(*args)
        assert (done.code, done.err) == (0, ""), args
    assert [r["id"] for r in json.loads(ws.orchrecon("runs", "--format", "json").out)["runs"]] == [run_id]


def test_an_immutable_ledger_refuses_run_and_touch_in_one_line(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    run_id = a_finished_run(ws)
    before = ws.segment().read_bytes()
    with immutable(ws.segment()):
        messages = [one_line(ws, ws.orchrecon(*args)) for args in (("run", "daily"), ("tables", "touch", "t"))]
        reads_everything(ws, run_id)
        relative = subprocess.run(  # the state directory named as the user named it
            [
                sys.executable,
                "-m",
                "orchrecon",
                "-C",
                str(ws.root),
                "--state-dir",
                ws.state.name,
                "tables",
                "touch",
                "t",
            ],
            check=False,
            capture_output=True,
            text=True,
            cwd=ws.state.parent,
            env=builders._environ(),
            timeout=30,
        )
        messages.append(one_line(ws, Done(relative.returncode, relative.stdout, relative.stderr)))
    assert messages == snapshot
    assert ws.segment().read_bytes() == before
    assert leftover_locks(ws) == []


def test_a_task_whose_log_cannot_be_written_fails_naming_the_log(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    (ws.state / "logs").mkdir(parents=True)
    with immutable(ws.state / "logs"):
        run_id, done = ws.run("daily")
    assert (done.code, done.err) == (1, "")  # a failed task, recorded as such
    (a,) = json.loads(ws.orchrecon("show", run_id, "--format", "json").out)["phases"][0]["tasks"]
    assert (a["status"], normalise(a["error"], ws.state)) == snapshot


def test_a_run_whose_token_cannot_be_stored_ends_in_error_naming_the_file(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    assert ws.orchrecon("tables", "touch", "in.c-x.t").code == 0  # the state directory, without a token yet
    with immutable(ws.state / "secrets"):
        run_id, done = ws.run("daily")
    assert (done.code, done.err) == (1, "")
    assert reason_of(ws, run_id) == snapshot
    assert ws.started("a") is None


def test_reading_commands_work_on_an_immutable_state_directory(ws: Workspace) -> None:
    run_id = a_finished_run(ws)
    with immutable(ws.state):
        reads_everything(ws, run_id)
    assert not (ws.state / "index.sqlite").exists()


def test_reading_commands_work_on_an_immutable_state_directory_whose_index_is_behind(ws: Workspace) -> None:
    run_id = a_finished_run(ws)
    assert ws.orchrecon("runs").code == 0  # a new index, in WAL mode, then a record it does not cover yet
    assert ws.orchrecon("tables", "touch", "t").code == 0
    index = (ws.state / "index.sqlite").read_bytes()
    with immutable(ws.state):  # its journal files cannot be created: SQLite cannot even open it
        reads_everything(ws, run_id)
        assert "t  " in ws.orchrecon("tables", "list").out
    assert (ws.state / "index.sqlite").read_bytes() == index


def test_a_read_only_state_directory_is_read_and_refuses_writes_in_one_line(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    run_id = a_finished_run(ws)
    before = ws.segment().read_bytes()
    with read_only(ws.state):
        reads_everything(ws, run_id)
        messages = [one_line(ws, ws.orchrecon(*args)) for args in (("run", "daily"), ("tables", "touch", "t"))]
    assert messages == snapshot
    assert ws.segment().read_bytes() == before


def test_an_unrecorded_end_waits_while_the_ledger_is_read_only_and_is_recorded_once_it_is_not(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    process, run_id, pgid = two_phase_run(ws)
    limit = ws.segment().stat().st_size
    resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (limit, limit))
    ws.release("go")
    assert one_line(ws, ws.finish(process, timeout=30)) == snapshot(name="message")
    assert not group_alive(pgid)
    with read_only(ws.state):
        assert reason_of(ws, run_id) == ("processing", "")  # nothing could record it, nothing claims otherwise
    assert reason_of(ws, run_id) == snapshot(name="recorded")


def test_a_crash_log_that_cannot_be_written_still_gives_one_line(tmp_path: Path) -> None:
    # A bug under `ulimit -f 0`: the traceback cannot be kept, the user still gets a line and exit 70.
    script = "import orchrecon.cli as c; raise SystemExit(c._crash(ValueError('x')))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env={**builders._environ(), "TMPDIR": str(tmp_path)},
        preexec_fn=file_size_limit(0),
        timeout=30,
    )
    assert done.returncode == 70
    assert done.stderr.splitlines() == [
        f"orchrecon: internal error: ValueError (no traceback: cannot write a crash log in {tmp_path}: file too large)"
    ]
