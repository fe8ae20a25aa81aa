"""`show` and `runs`: what people and programs read about runs; exit codes of `run`, `show` and `runs`."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from tests.execution.builders import Workspace, normalise, task
from tests.reports import scenes

TIMES = ("startedAt", "finishedAt", "durationMs")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MIXED = {
    "extract": [task("orders"), task("flaky", continue_on_failure=True, exit=3), task("legacy", enabled=False)],
    "transform": [task("mart", exit=4), task("checks", sleep=0.1)],
    "load": [task("publish")],
}


def millis(start: str, end: str) -> int:
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() * 1000)


def test_show_text_of_a_run_with_mixed_statuses(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", MIXED)
    run_id, done = ws.run("daily", "--as", "ops@example.com")
    assert done.code == 1
    shown = ws.inspect("show", run_id)
    assert shown.code == 0, shown.err
    assert normalise(shown.out, ws.state, ws.root) == snapshot


def on_dask(ws: Workspace) -> str:
    """Records a finished run of which two tasks ran on Dask workers (their task.started names the worker)."""
    ws.orchestrate("daily-sales", {"extract": [task("shop-orders")]})  # a repository to run the command in
    Ledger(ws.state / "ledger", SystemClock()).append(
        [{k: v for k, v in r.items() if k != "seq"} for r in scenes.ON_DASK]
    )
    return str(scenes.ON_DASK[0]["run"])


def test_show_text_names_the_dask_worker_of_each_task_that_ran_on_one(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    shown = ws.inspect("show", on_dask(ws))
    assert shown.code == 0, shown.err
    assert "  task shop-orders: success  ex/orders  1m00s  exit 0  on tcp://10.0.0.5:39211\n" in shown.out
    assert "  task adform-campaigns: error  ex/campaigns  2m00s  exit 1\n" in shown.out  # it ran here: nothing added
    assert shown.out == snapshot


def test_show_json_gives_each_task_its_worker_or_null(ws: Workspace) -> None:
    tasks = [t for p in ws.show(on_dask(ws))["phases"] for t in p["tasks"]]
    assert [(t["name"], t["worker"]) for t in tasks] == [
        ("shop-orders", "tcp://10.0.0.5:39211"),
        ("adform-campaigns", None),
        ("crm-customers", None),
        ("sales-mart", "tcp://10.0.0.7:40533"),
    ]


def test_show_json_describes_the_run_its_phases_and_tasks(ws: Workspace) -> None:
    ws.orchestrate("daily", MIXED)
    run_id, _ = ws.run("daily", "--as", "ops@example.com")
    run = ws.show(run_id)
    assert {k: run[k] for k in ("id", "orchestration", "status", "trigger", "by", "retryOf", "reason")} == {
        "id": run_id,
        "orchestration": "daily",
        "status": "error",
        "trigger": "manual",
        "by": "ops@example.com",
        "retryOf": None,
        "reason": None,
    }
    assert all(TIME.match(run[k]) for k in ("requestedAt", "startedAt", "finishedAt"))
    assert run["requestedAt"] <= run["startedAt"] <= run["finishedAt"]
    assert run["durationMs"] == millis(run["startedAt"], run["finishedAt"])
    assert [(p["name"], p["status"], [t["name"] for t in p["tasks"]]) for p in run["phases"]] == [
        ("extract", "warning", ["orders", "flaky", "legacy"]),
        ("transform", "error", ["mart", "checks"]),
        ("load", "not-executed", ["publish"]),
    ]
    assert set(run["phases"][0]) == {"name", "status", "startedAt", "finishedAt", "durationMs", "tasks"}


def test_show_json_gives_each_task_its_times_exit_code_error_and_log(ws: Workspace) -> None:
    ws.orchestrate("daily", MIXED)
    run_id, _ = ws.run("daily")
    tasks = {t["name"]: t for p in ws.show(run_id)["phases"] for t in p["tasks"]}
    mart = tasks["mart"]
    assert set(mart) == {"name", "config", "status", "exitCode", "error", "log", "worker", *TIMES}
    assert (mart["config"], mart["status"], mart["exitCode"]) == ("ex/mart", "error", 4)
    assert mart["error"].startswith("exited with code 4")
    assert mart["durationMs"] == millis(mart["startedAt"], mart["finishedAt"])
    assert "probe mart ends" in Path(mart["log"]).read_text(encoding="utf-8")
    assert mart["log"] == str(ws.state / "logs" / run_id / "mart.log")
    assert (tasks["checks"]["status"], tasks["checks"]["exitCode"], tasks["checks"]["error"]) == ("success", 0, None)
    assert {t["worker"] for t in tasks.values()} == {None}  # every task ran here, none on a Dask worker
    for name in ("legacy", "publish"):
        empty = (*TIMES, "exitCode", "log")
        assert {k: tasks[name][k] for k in empty} == dict.fromkeys(empty), name


def test_runs_json_lists_the_latest_runs_newest_first(ws: Workspace) -> None:
    ws.orchestrate("sales", {"one": [task("a")]})
    ws.orchestrate("stock", {"one": [task("b", exit=1)]})
    first, _ = ws.run("sales")
    second, _ = ws.run("stock")
    runs = ws.runs()
    assert [(r["id"], r["orchestration"], r["status"], r["trigger"]) for r in runs] == [
        (second, "stock", "error", "manual"),
        (first, "sales", "success", "manual"),
    ]
    assert set(runs[0]) == {
        "id",
        "orchestration",
        "status",
        "trigger",
        "requestedAt",
        "startedAt",
        "finishedAt",
        "durationMs",
    }
    assert all(r["durationMs"] == millis(r["startedAt"], r["finishedAt"]) for r in runs)
    assert [r["id"] for r in ws.runs("sales")] == [first]
    assert [r["id"] for r in ws.runs("--limit", "1")] == [second]


def test_a_successful_run_exits_0_without_pointing_to_details(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    run_id, done = ws.run("daily")
    assert done.code == 0
    assert "details:" not in done.out
    stamp, last = done.out.splitlines()[-1].split("  ", 1)
    assert re.fullmatch(r"\d\d:\d\d:\d\d", stamp)
    assert last.startswith(f"run {run_id} success in ")


def test_runs_of_an_unknown_orchestration_is_a_usage_error(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    done = ws.inspect("runs", "dialy")
    assert (done.code, done.out, done.err.count("\n")) == (2, "", 1)


def test_unknown_runs_and_orchestrations_are_usage_errors_with_one_line(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    for args in (("show", "20260101-000000-abcdef"), ("run", "nope"), ("cancel", "20260101-000000-abcdef")):
        done = ws.orchrecon(*args)
        assert (done.code, done.out, done.err.count("\n")) == (2, "", 1), (args, done)
        assert done.err.startswith("orchrecon: error: ")


def test_a_run_records_the_commit_and_whether_the_working_tree_was_dirty(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    head = ws.commit()
    clean, _ = ws.run("daily")
    ws.configure("ex/a", parameters={"mark": "changed"})
    dirty, _ = ws.run("daily")
    assert [(ws.show(i)["revision"], ws.show(i)["dirty"]) for i in (clean, dirty)] == [(head, False), (head, True)]
    assert f"revision {head[:12]} (dirty)" in ws.inspect("show", dirty).out
