"""Stopping a task or a run: timeouts, `orchrecon cancel`, SIGINT and SIGTERM; no process is left behind."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.execution.builders import Workspace, alive, catches, group_alive, statuses, task, wait_until


def running_with_grandchild(ws: Workspace) -> tuple[dict[str, Any], int]:
    """Wait until the probe of the one running task has started its grandchild: (its start record, grandchild)."""
    wait_until(lambda: ws.probes(event="grandchild"), what="the task's grandchild")
    ((start,), (grandchild,)) = ws.probes(event="start"), ws.probes(event="grandchild")
    return start, grandchild["child"]


def test_a_timeout_kills_the_task_and_its_grandchildren(ws: Workspace) -> None:
    ws.configure("ex/slow", timeout="1s", parameters={"grandchild": True, "sleep": 30})
    ws.orchestrate("daily", {"one": [task("slow", "ex/slow")], "two": [task("later")]})
    run_id, done = ws.run("daily")
    assert done.code == 1
    (start,), (grandchild,) = ws.probes(run_id, "start"), ws.probes(run_id, "grandchild")
    assert not alive(grandchild["child"])
    assert not group_alive(start["pgid"])
    run = ws.show(run_id)
    assert statuses(run) == {
        "run": "error",
        "one": "error",
        "slow": "error",
        "two": "not-executed",
        "later": "not-executed",
    }
    assert "timed out after 1s" in run["phases"][0]["tasks"][0]["error"]


def test_cancel_from_another_process_terminates_the_run_and_kills_the_task_group(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", grandchild=True, sleep=30)], "two": [task("b")]})
    process = ws.start("run", "daily")
    start, grandchild = running_with_grandchild(ws)
    done = ws.orchrecon("cancel", start["run"])
    assert (done.code, done.out) == (0, f"run {start['run']} terminated\n")
    assert ws.finish(process).code == 1
    assert not alive(grandchild)
    assert not group_alive(start["pgid"])
    run = ws.show(start["run"])
    assert statuses(run) == {
        "run": "terminated",
        "one": "terminated",
        "a": "terminated",
        "two": "not-executed",
        "b": "not-executed",
    }
    assert run["reason"].startswith("cancelled")


def test_cancelling_a_waiting_run_records_it_cancelled_and_it_never_runs(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    first = ws.start("run", "daily")
    wait_until(lambda: ws.started("a"), what="the first run's task")
    second = ws.start("run", "daily")
    wait_until(lambda: len(ws.requested()) == 2, what="the second request")
    waiting = ws.requested()[1]
    done = ws.orchrecon("cancel", waiting)
    assert (done.code, done.out) == (0, f"run {waiting} cancelled\n")
    assert ws.finish(second).code == 1
    ws.release("go")
    assert ws.finish(first).code == 0
    assert ws.ran(waiting) == set()
    run = ws.show(waiting)
    assert (run["status"], run["startedAt"]) == ("cancelled", None)
    assert ws.orchrecon("cancel", waiting).code == 1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_run_terminates_the_run_cleanly(ws: Workspace, signum: signal.Signals) -> None:
    ws.orchestrate("daily", {"one": [task("a", grandchild=True, sleep=30)]})
    process = ws.start("run", "daily")
    start, grandchild = running_with_grandchild(ws)
    process.send_signal(signum)
    done = ws.finish(process)
    assert done.code == 1, done.err
    assert done.out.splitlines()[-1] == f"details: orchrecon show {start['run']}"
    assert not alive(grandchild)
    assert not group_alive(start["pgid"])
    run = ws.show(start["run"])
    assert statuses(run) == {"run": "terminated", "one": "terminated", "a": "terminated"}
    assert run["reason"] == f"interrupted by {signum.name}"


def test_sigint_to_a_waiting_run_records_it_cancelled(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    first = ws.start("run", "daily")
    wait_until(lambda: ws.started("a"), what="the first run's task")
    second = ws.start("run", "daily")
    wait_until(lambda: len(ws.requested()) == 2, what="the second request")
    # Wait until its handlers are in place; the test below covers a signal that comes earlier.
    wait_until(lambda: catches(second.pid, signal.SIGTERM), what="the second run to handle signals")
    waiting = ws.requested()[1]
    second.send_signal(signal.SIGINT)
    assert ws.finish(second).code == 1
    ws.release("go")
    assert ws.finish(first).code == 0
    run = ws.show(waiting)
    assert (run["status"], run["reason"]) == ("cancelled", "interrupted by SIGINT")
    assert ws.ran(waiting) == set()


def test_sigint_while_run_announces_its_request_records_the_run_cancelled(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    process, go_on = ws.start_stuck("run", "daily")  # stuck printing "requested", after recording it
    wait_until(ws.requested, what="the request")
    process.send_signal(signal.SIGINT)
    go_on()
    assert ws.finish(process, timeout=2).code == 1
    (run_id,) = ws.requested()
    assert (ws.show(run_id)["status"], ws.show(run_id)["reason"]) == ("cancelled", "interrupted by SIGINT")


def test_a_cancel_requested_just_after_the_request_is_not_lost(ws: Workspace) -> None:
    # The second run is held printing "requested" (after recording it) while the cancel is recorded.
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    first = ws.start("run", "daily")
    wait_until(lambda: ws.started("a"), what="the first run's task")
    second, go_on = ws.start_stuck("run", "daily")
    wait_until(lambda: len(ws.requested()) == 2, what="the second request")
    cancel = ws.start("cancel", ws.requested()[1], "--wait", "1s")
    wait_until(lambda: ws.ledger()[-1]["type"] == "run.cancel-requested", what="the cancel request")
    go_on()
    assert ws.finish(cancel).code == 0
    assert ws.finish(second).code == 1
    ws.release("go")
    assert ws.finish(first).code == 0
