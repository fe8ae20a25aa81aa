"""Retry: a new run pointing back at the old one, by default its failed part, with the recorded definition."""

from __future__ import annotations

import json

from tests.execution.builders import RUN_ID, Workspace, statuses, task


def retry(ws: Workspace, run_id: str, *args: str) -> tuple[str, int]:
    done = ws.orchrecon("retry", run_id, *args)
    ids = [i for i in RUN_ID.findall(done.out) if i != run_id]
    assert ids, f"no new run in the output of retry (exit {done.code}): {done.out}{done.err}"
    return ids[0], done.code


# first succeeds, second is a warning (b failed), third fails (c), fourth is not executed.
FAILING = {
    "first": [task("z")],
    "second": [task("a"), task("b", continue_on_failure=True, exit=3)],
    "third": [task("c", exit=4), task("c2"), task("off", enabled=False)],
    "fourth": [task("d")],
}


def test_retry_of_a_failed_run_runs_failed_tasks_and_the_phases_that_failed_or_did_not_run(ws: Workspace) -> None:
    ws.orchestrate("daily", FAILING)
    old, _ = ws.run("daily")
    new, code = retry(ws, old)
    assert code == 1
    assert ws.ran(new) == {"b", "c", "c2"}
    run = ws.show(new)
    assert (run["retryOf"], run["trigger"]) == (old, "retry")
    assert statuses(run) == {
        "run": "error",
        "first": "skipped",
        "z": "skipped",
        "second": "warning",
        "a": "skipped",
        "b": "error",
        "third": "error",
        "c": "error",
        "c2": "success",
        "off": "skipped",
        "fourth": "not-executed",
        "d": "not-executed",
    }


def test_retry_of_a_successful_run_runs_every_enabled_task(ws: Workspace) -> None:
    ws.orchestrate("daily", {"only": [task("a"), task("b"), task("off", enabled=False)]})
    old, done = ws.run("daily", "--task", "a")
    assert done.code == 0, done.out + done.err
    new, code = retry(ws, old)
    assert code == 0
    assert ws.ran(new) == {"a", "b"}
    assert statuses(ws.show(new))["off"] == "skipped"


def test_retry_with_task_runs_those_tasks_instead(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a"), task("b", exit=1)], "two": [task("c")]})
    old, _ = ws.run("daily")
    new, code = retry(ws, old, "--task", "c")
    assert code == 0
    assert ws.ran(new) == {"c"}
    run = ws.show(new)
    assert run["retryOf"] == old
    assert statuses(run) == {
        "run": "success",
        "one": "skipped",
        "a": "skipped",
        "b": "skipped",
        "two": "success",
        "c": "success",
    }


def changed_after_a_run(ws: Workspace) -> str:
    """A run of task a with parameter mark v1; then the working tree says v2 and adds task `new`."""
    ws.configure("ex/a", parameters={"mark": "v1"})
    ws.orchestrate("daily", {"one": [task("a")]})
    old, _ = ws.run("daily")
    ws.configure("ex/a", parameters={"mark": "v2"})
    ws.orchestrate("daily", {"one": [task("a"), task("new")]})
    return old


def mark(ws: Workspace, run_id: str) -> str:
    start = ws.started("a", run_id)
    assert start is not None, f"task a did not run in {run_id}"
    value: str = json.loads(start["env"]["ORCHRECON_PARAMETERS"])["mark"]
    return value


def test_retry_runs_the_recorded_definition_even_after_the_working_tree_changed(ws: Workspace) -> None:
    old = changed_after_a_run(ws)
    new, code = retry(ws, old)
    assert code == 0
    assert (mark(ws, old), mark(ws, new)) == ("v1", "v1")
    assert ws.ran(new) == {"a"}
    assert [t["name"] for p in ws.show(new)["phases"] for t in p["tasks"]] == ["a"]


def test_retry_current_runs_the_working_tree_definition(ws: Workspace) -> None:
    old = changed_after_a_run(ws)
    new, code = retry(ws, old, "--current")
    assert code == 0
    assert mark(ws, new) == "v2"
    assert ws.ran(new) == {"a", "new"}
    assert ws.show(new)["retryOf"] == old


def test_retry_of_an_unknown_run_is_a_usage_error(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    done = ws.orchrecon("retry", "20260101-000000-abcdef")
    assert done.code == 2
    assert done.err.count("\n") == 1
    assert ws.runs() == []
