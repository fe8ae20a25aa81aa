"""`orchrecon logs`: task logs that grow while the task runs, followed with `--follow`; run id prefixes."""

from __future__ import annotations

import json
from pathlib import Path

from syrupy.assertion import SnapshotAssertion

from tests.execution.builders import RUN_ID, Lines, Workspace, normalise, task, wait_until


def _running(ws: Workspace, name: str) -> str:
    """A run of orchestration `name` whose task `a` printed its first line and waits for the gate `go`."""
    ws.orchestrate(name, {"one": [task("a", gate="go")]})
    ws.start("run", name)
    return _started_run(ws)


def _started_run(ws: Workspace) -> str:
    wait_until(lambda: ws.started("a"), what="task a to start")
    started = ws.started("a")
    assert started is not None
    return str(started["run"])


def test_the_log_grows_while_the_task_runs_and_show_names_it(ws: Workspace) -> None:
    run_id = _running(ws, "daily")
    log = ws.state / "logs" / run_id / "a.log"
    wait_until(lambda: log.exists() and log.read_text().endswith("\n"), what="the first line in the log")
    assert log.read_text() == "probe a has token ***\n"  # the whole line, the token redacted, while it runs
    shown = ws.inspect("show", run_id)
    assert f"log: {log}" in shown.out
    assert "no output" not in shown.out
    assert not ws.probes(run_id, "end")
    ws.release("go")


def test_follow_prints_a_running_tasks_lines_before_it_ends(ws: Workspace) -> None:
    run_id = _running(ws, "daily")
    follower = ws.start("logs", run_id, "a", "--follow")
    lines = Lines(follower)
    assert lines.wait_for("has token") == "probe a has token ***"
    assert follower.poll() is None  # still following
    assert not ws.probes(run_id, "end")  # and the task has not ended: the line came while it ran
    ws.release("go")
    assert lines.rest() == ["probe a has token ***", "probe a ends with token *** and exit code 0"]
    assert follower.wait(10) == 0


def test_follow_of_every_task_heads_each_tasks_output(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go")], "two": [task("b", exit=3)]})
    ws.start("run", "daily")
    run_id = _started_run(ws)
    follower = ws.start("logs", run_id[:17], "--follow")  # a prefix of the id
    lines = Lines(follower)
    lines.wait_for("probe a has token")
    ws.release("go")
    assert lines.rest() == [
        "==> phase one, task a <==",
        "probe a has token ***",
        "probe a ends with token *** and exit code 0",
        "==> phase two, task b <==",
        "probe b has token ***",
        "probe b ends with token *** and exit code 3",
    ]
    assert follower.wait(10) == 0  # as show: the logs were printed, whatever the run's status


def test_follow_of_a_finished_task_prints_its_log_and_ends(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    run_id, _ = ws.run("daily")
    done = ws.orchrecon("logs", run_id, "a", "--follow")
    assert (done.code, done.out) == (0, (ws.state / "logs" / run_id / "a.log").read_text())


def test_logs_of_a_run_print_every_task_in_phase_order(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate(
        "daily",
        {"extract": [task("orders"), task("legacy", enabled=False)], "load": [task("mart", exit=4), task("checks")]},
    )
    run_id, _ = ws.run("daily")
    done = ws.inspect("logs", run_id)
    assert done.code == 0, done.err
    assert normalise(done.out) == snapshot


def test_logs_of_a_task_without_a_log_say_why_on_stderr(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", {"extract": [task("orders"), task("legacy", enabled=False)]})
    run_id, _ = ws.run("daily")
    done = ws.inspect("logs", run_id, "legacy")
    assert (done.code, done.out) == (0, "")
    assert normalise(done.err) == snapshot


def test_an_unknown_run_or_task_is_one_line_and_exit_2(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", {"one": [task("a"), task("b")]})
    run_id, _ = ws.run("daily")
    for args in (("nope",), (run_id, "c"), (run_id, "c", "--follow")):
        done = ws.orchrecon("logs", *args)
        assert (done.code, done.out) == (2, ""), args
        assert normalise(done.err) == snapshot


def test_a_unique_prefix_names_a_run_wherever_a_run_id_is_taken(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", exit=1)]})
    run_id, _ = ws.run("daily")
    prefix = run_id[:16]
    assert json.loads(ws.inspect("show", prefix, "--format", "json").out)["id"] == run_id
    assert ws.inspect("logs", prefix, "a").out.startswith("probe a has token")
    cancelled = ws.orchrecon("cancel", prefix)
    assert (cancelled.code, cancelled.out) == (1, f"run {run_id} already ended: error\n")
    retried = ws.orchrecon("retry", prefix)  # last: the new run may share the prefix
    assert f"retry of {run_id}" in retried.out


def test_an_ambiguous_prefix_lists_the_candidates(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    first, _ = ws.run("daily")
    second, _ = ws.run("daily")
    common = next(i for i, (x, y) in enumerate(zip(first, second, strict=True)) if x != y)
    for command in ("show", "logs", "retry", "cancel"):
        done = ws.orchrecon(command, first[:common])
        assert done.code == 2, command
        assert RUN_ID.sub("<RUN>", done.err.replace(repr(first[:common]), "'<PREFIX>'")) == snapshot(name="ambiguous")
        assert first in done.err
        assert second in done.err


def test_a_removed_log_file_is_reported_as_missing(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    run_id, _ = ws.run("daily")
    Path(ws.state / "logs" / run_id / "a.log").unlink()
    done = ws.inspect("logs", run_id, "a")
    assert (done.code, done.out) == (0, "")
    assert "has no log" in done.err
