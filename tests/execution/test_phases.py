"""Phases run one after another, the tasks of a phase together; how failures end phases and runs."""

from __future__ import annotations

from tests.execution.builders import Workspace, statuses, task, wait_until


def test_tasks_of_a_phase_overlap_and_phases_never_do(ws: Workspace) -> None:
    # Each task waits for its phase's gate, which opens only once all tasks of the phase are running.
    extract, load = [task(n, gate="extract") for n in "abc"], [task(n, gate="load") for n in "de"]
    ws.orchestrate("daily", {"extract": extract, "load": load})
    process = ws.start("run", "daily")
    wait_until(lambda: len(ws.probes(event="start")) == 3, what="all extract tasks running at once")
    ws.release("extract")
    wait_until(lambda: len(ws.probes(event="start")) == 5, what="all load tasks running at once")
    ws.release("load")
    assert ws.finish(process).code == 0
    start = {r["task"]: r["mono"] for r in ws.probes(event="start")}
    end = {r["task"]: r["mono"] for r in ws.probes(event="end")}
    assert min(start[t] for t in "de") >= max(end[t] for t in "abc"), "load started before extract ended"


def test_max_parallel_jobs_limits_the_tasks_running_at_once(ws: Workspace) -> None:
    ws.orchestrate("daily", {"only": [task("a", sleep=0.2), task("b", sleep=0.2)]}, max_parallel_jobs=1)
    run_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    events = [r["event"] for r in sorted(ws.probes(run_id), key=lambda r: r["mono"])]
    assert events == ["start", "end", "start", "end"]


def test_a_failure_with_continue_on_failure_makes_a_warning_and_the_run_goes_on(ws: Workspace) -> None:
    ws.orchestrate(
        "daily",
        {
            "extract": [task("ok"), task("flaky", continue_on_failure=True, exit=3)],
            "load": [task("later")],
        },
    )
    run_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    assert "details:" not in done.out
    assert ws.ran(run_id) == {"ok", "flaky", "later"}
    run = ws.show(run_id)
    assert statuses(run) == {
        "run": "warning",
        "extract": "warning",
        "ok": "success",
        "flaky": "error",
        "load": "success",
        "later": "success",
    }
    assert run["phases"][0]["tasks"][1]["exitCode"] == 3


def test_a_failure_lets_running_siblings_finish_and_stops_later_phases(ws: Workspace) -> None:
    ws.orchestrate(
        "daily",
        {
            "extract": [task("bad", exit=1), task("slow", sleep=0.5)],
            "transform": [task("later")],
            "load": [task("last")],
        },
    )
    run_id, done = ws.run("daily")
    assert done.code == 1
    assert done.out.splitlines()[-1] == f"details: orchrecon show {run_id}"
    assert ws.ran(run_id) == {"bad", "slow"}
    end = {r["task"]: r["mono"] for r in ws.probes(run_id, "end")}
    assert end["slow"] > end["bad"]
    assert statuses(ws.show(run_id)) == {
        "run": "error",
        "extract": "error",
        "bad": "error",
        "slow": "success",
        "transform": "not-executed",
        "later": "not-executed",
        "load": "not-executed",
        "last": "not-executed",
    }


def test_a_successful_task_records_its_outputs_as_updated_and_a_failed_one_does_not(ws: Workspace) -> None:
    ws.configure("ex/orders", outputs=["in.c-shop.orders", "in.c-shop.items"])
    ws.configure("ex/crm", outputs=["in.c-crm.customers"], parameters={"exit": 2})
    ws.orchestrate("daily", {"extract": [task("orders", "ex/orders"), task("crm", "ex/crm", continue_on_failure=True)]})
    run_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    records = ws.ledger()
    updated = [r for r in records if r["type"] == "table.updated"]
    assert [(r["table"], r["run"], r["task"], r["orchestration"]) for r in updated] == [
        ("in.c-shop.orders", run_id, "orders", "daily"),
        ("in.c-shop.items", run_id, "orders", "daily"),
    ]
    finished = next(r for r in records if r["type"] == "task.finished" and r["task"] == "orders")
    assert all(r["seq"] > finished["seq"] for r in updated)
