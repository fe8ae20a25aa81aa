"""Never in parallel: runs of one orchestration, and tasks of one configuration, across processes; on the
PostgreSQL backend also across machines (`ws.other_machine`: a state directory of its own, the same database)."""

from __future__ import annotations

import itertools

from tests.execution.builders import TIME, Workspace, statuses, task, wait_until


def spans(ws: Workspace, task_name: str) -> list[tuple[str, float, float]]:
    """(run, start, end) of every run of `task_name`, in the order they started."""
    ends = {r["run"]: r["mono"] for r in ws.probes(event="end") if r["task"] == task_name}
    starts = [r for r in ws.probes(event="start") if r["task"] == task_name]
    return [(r["run"], r["mono"], ends[r["run"]]) for r in sorted(starts, key=lambda r: r["mono"])]


def test_runs_of_one_orchestration_wait_for_each_other_in_request_order(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go", sleep=0.1)]})
    first = ws.start("run", "daily")
    wait_until(lambda: ws.started("a"), what="the first run's task")
    second = ws.start("run", "daily", state=ws.other_machine)
    wait_until(lambda: len(ws.requested()) == 2, what="the second request")
    third = ws.start("run", "daily")
    wait_until(lambda: len(ws.requested()) == 3, what="the third request")
    assert [(r["id"], r["status"]) for r in reversed(ws.runs())] == list(
        zip(ws.requested(), ["processing", "waiting", "waiting"], strict=True)
    )
    assert len(ws.probes(event="start")) == 1
    ws.release("go")
    assert [ws.finish(p).code for p in (first, second, third)] == [0, 0, 0]
    order = spans(ws, "a")
    assert [run for run, _, _ in order] == ws.requested()
    assert all(later[1] >= earlier[2] for earlier, later in itertools.pairwise(order)), order
    records = ws.ledger()
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1)), "three processes broke the sequence"
    assert all(TIME.fullmatch(r["time"]) for r in records)


def test_orchestrations_sharing_a_configuration_never_run_it_at_once(ws: Workspace) -> None:
    ws.configure("shared/load")
    ws.orchestrate("sales", {"one": [task("load", "shared/load", gate="go", sleep=0.1)]})
    ws.orchestrate("stock", {"one": [task("load", "shared/load", gate="go", sleep=0.1), task("other")]})
    sales = ws.start("run", "sales")
    wait_until(lambda: ws.started("load"), what="the sales run's task")
    stock = ws.start("run", "stock", state=ws.other_machine)
    wait_until(lambda: ws.probes(event="end"), what="the stock run's other task, which needs no lock")
    assert [r["task"] for r in ws.probes(event="start")] == ["load", "other"]
    stock_id = ws.runs("stock")[0]["id"]
    assert statuses(ws.show(stock_id)) == {
        "run": "processing",
        "one": "processing",
        "load": "waiting",
        "other": "success",
    }
    ws.release("go")
    assert (ws.finish(sales).code, ws.finish(stock).code) == (0, 0)
    (_, _, sales_end), (_, stock_start, _) = spans(ws, "load")
    assert stock_start >= sales_end


def test_a_waiting_run_starts_when_the_process_of_the_run_before_it_dies(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    first = ws.start("run", "daily")
    wait_until(lambda: ws.started("a"), what="the first run's task")
    second = ws.start("run", "daily")
    wait_until(lambda: len(ws.requested()) == 2, what="the second request")
    first.kill()
    first.wait()
    ws.release("go")  # the first run's task outlives it; let it end
    wait_until(lambda: second.poll() is not None, timeout=1, what="the waiting run to run and end")
    assert second.returncode == 0


def test_tasks_of_one_phase_sharing_a_configuration_run_one_after_the_other(ws: Workspace) -> None:
    ws.configure("shared/load", parameters={"sleep": 0.2})
    ws.orchestrate("daily", {"one": [task("first", "shared/load"), task("second", "shared/load"), task("other")]})
    run_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    (_, _, first_end), (_, second_start, _) = sorted(spans(ws, "first") + spans(ws, "second"), key=lambda s: s[1])
    assert second_start >= first_end
    assert ws.ran(run_id) == {"first", "second", "other"}


def test_a_task_waiting_for_its_configuration_does_not_start_after_a_sibling_failed(ws: Workspace) -> None:
    ws.configure("shared/load", parameters={"exit": 1})
    ws.orchestrate("daily", {"one": [task("first", "shared/load"), task("second", "shared/load")]})
    run_id, done = ws.run("daily")
    assert done.code == 1
    assert len(ws.probes(run_id, "start")) == 1
    # Which of the two gets the configuration first is up to the scheduler.
    assert sorted(statuses(ws.show(run_id)).values()) == ["error", "error", "error", "not-executed"]
