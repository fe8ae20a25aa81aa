"""A crashed `orchrecon run` (kill -9) and a torn ledger line: nothing written is lost, nothing stays locked."""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime

from tests.execution.builders import Workspace, group_alive, task, wait_until

TORN = b'{"v":1,"seq":999,"time":"2026-11-21T18:00:00.000Z","type":"run.fini'


def killed_mid_task(ws: Workspace) -> tuple[str, int, bytes]:
    """A run killed -9 while its task waits for the gate `go`: (run id, the task's pgid, the ledger before)."""
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    process = ws.start("run", "daily")
    wait_until(lambda: ws.started("a"), what="the task")
    before = ws.ledger_bytes()
    process.kill()
    ws.finish(process)
    start = ws.started("a")
    assert start is not None
    return start["run"], start["pgid"], before


def test_a_run_killed_mid_task_is_recorded_terminated_and_the_ledger_before_it_is_kept(ws: Workspace) -> None:
    run_id, pgid, before = killed_mid_task(ws)
    os.killpg(pgid, signal.SIGKILL)  # its task outlives it: see the test below
    assert [(r["id"], r["status"]) for r in ws.runs()] == [(run_id, "terminated")]
    run = ws.show(run_id)
    assert "died" in run["reason"]
    assert run["phases"][0]["tasks"][0]["status"] == "terminated"
    after = ws.ledger_bytes()
    assert after.startswith(before)
    assert [json.loads(line)["type"] for line in after[len(before) :].splitlines()] == ["run.finished"]


def test_after_a_run_is_killed_its_locks_are_free_and_a_new_run_starts_at_once(ws: Workspace) -> None:
    run_id, pgid, before = killed_mid_task(ws)
    os.killpg(pgid, signal.SIGKILL)
    ws.release("go")
    new_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    new = ws.show(new_id)
    waited = datetime.fromisoformat(new["startedAt"]) - datetime.fromisoformat(new["requestedAt"])
    assert waited.total_seconds() < 0.5
    assert ws.show(run_id)["status"] == "terminated"
    assert ws.ledger_bytes().startswith(before)


def test_a_waiting_run_whose_process_is_killed_is_recorded_cancelled(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    first = ws.start("run", "daily")
    wait_until(lambda: ws.started("a"), what="the first run's task")
    second = ws.start("run", "daily")
    wait_until(lambda: len(ws.requested()) == 2, what="the second request")
    second.kill()
    ws.finish(second)
    waiting = ws.requested()[1]
    run = ws.show(waiting)
    assert (run["status"], run["startedAt"]) == ("cancelled", None)
    assert "died" in run["reason"]
    ws.release("go")
    assert ws.finish(first).code == 0
    assert ws.ran(waiting) == set()


def test_once_a_killed_run_is_recorded_terminated_its_task_no_longer_runs(ws: Workspace) -> None:
    run_id, pgid, _ = killed_mid_task(ws)
    assert ws.show(run_id)["status"] == "terminated"
    wait_until(lambda: not group_alive(pgid), timeout=1, what="the dead run's task to be stopped")


def test_a_torn_last_ledger_line_is_ignored_then_cut_off_by_the_next_run(ws: Workspace) -> None:
    ws.only_on_the_state_directory("a table has no torn lines: a row is committed whole or not at all")
    ws.orchestrate("daily", {"one": [task("a")]})
    first, _ = ws.run("daily")
    whole = ws.segment().read_bytes()
    with ws.segment().open("ab") as f:
        f.write(TORN)
    assert [(r["id"], r["status"]) for r in ws.runs()] == [(first, "success")]
    assert ws.show(first)["status"] == "success"
    assert ws.inspect("show", first).code == 0
    second, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    after = ws.segment().read_bytes()
    assert after.startswith(whole)
    assert after.endswith(b"\n")
    assert TORN not in after
    seqs = [json.loads(line)["seq"] for line in after.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))
    assert ws.show(second)["status"] == "success"
