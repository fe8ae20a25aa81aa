"""A manual run may name the tasks to run or leave out; a disabled task never runs."""

from __future__ import annotations

from tests.execution.builders import Workspace, statuses, task

PHASES = {
    "extract": [task("a"), task("b"), task("off", enabled=False)],
    "load": [task("c")],
}


def test_task_runs_only_the_named_tasks_and_skips_the_others(ws: Workspace) -> None:
    ws.orchestrate("daily", PHASES)
    run_id, done = ws.run("daily", "--task", "b", "--task", "c")
    assert done.code == 0, done.out + done.err
    assert ws.ran(run_id) == {"b", "c"}
    assert statuses(ws.show(run_id)) == {
        "run": "success",
        "extract": "success",
        "a": "skipped",
        "b": "success",
        "off": "skipped",
        "load": "success",
        "c": "success",
    }


def test_skip_task_leaves_tasks_out_and_a_phase_without_tasks_is_skipped(ws: Workspace) -> None:
    ws.orchestrate("daily", PHASES)
    run_id, done = ws.run("daily", "--skip-task", "c", "--skip-task", "a")
    assert done.code == 0, done.out + done.err
    assert ws.ran(run_id) == {"b"}
    assert statuses(ws.show(run_id)) == {
        "run": "success",
        "extract": "success",
        "a": "skipped",
        "b": "success",
        "off": "skipped",
        "load": "skipped",
        "c": "skipped",
    }


def test_a_disabled_task_never_runs_and_naming_it_is_a_usage_error(ws: Workspace) -> None:
    ws.orchestrate("daily", PHASES)
    done = ws.orchrecon("run", "daily", "--task", "off", "--task", "a")
    assert done.code == 2
    assert done.err.startswith("orchrecon: error: task 'off' of daily is disabled (enabled: false at ")
    assert ws.runs() == []
    run_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    assert ws.ran(run_id) == {"a", "b", "c"}
    assert statuses(ws.show(run_id))["off"] == "skipped"


def test_an_unknown_task_is_a_usage_error_and_records_nothing(ws: Workspace) -> None:
    ws.orchestrate("daily", PHASES)
    for option in ("--task", "--skip-task"):
        done = ws.orchrecon("run", "daily", option, "nope")
        assert done.code == 2
        assert done.out == ""
        assert done.err.count("\n") == 1
        assert "nope" in done.err
        assert done.err.startswith("orchrecon: error: ")
    assert ws.runs() == []
    assert ws.probes() == []


def test_a_retry_naming_a_disabled_task_is_a_usage_error(ws: Workspace) -> None:
    ws.orchestrate("daily", PHASES)
    run_id, _ = ws.run("daily")
    done = ws.orchrecon("retry", run_id, "--task", "off")
    assert done.code == 2
    assert done.err == (
        "orchrecon: error: task 'off' of daily is disabled (enabled: false in the run's recorded definition); "
        "enable it and retry with --current\n"
    )
    assert ws.requested() == [run_id]
