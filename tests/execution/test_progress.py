"""What `run` prints while it waits: for another run, for a configuration's lock, and on long tasks."""

from __future__ import annotations

import io
import re

from syrupy.assertion import SnapshotAssertion

from orchrecon.execution.progress import Progress
from tests.execution.builders import Lines, Workspace, normalise, task, wait_until

CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")
FAST = {"ORCHRECON_PROGRESS_INTERVAL": "0.2"}


def _shown(lines: list[str], ws: Workspace) -> list[str]:
    """Progress lines without their time stamps and with ids, times and durations replaced."""
    text = normalise("\n".join(line[10:] for line in lines), ws.root, ws.state)  # ids numbered across lines
    return CLOCK.sub("<CLOCK>", text).split("\n")


def test_a_second_run_says_which_run_it_waits_for_and_who_started_that(
    ws: Workspace, snapshot: SnapshotAssertion
) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    first = Lines(ws.start("run", "daily", "--as", "first@example.com"))
    first.wait_for("task a started")
    second = Lines(ws.start("run", "daily", "--as", "second@example.com"))
    line = second.wait_for("waiting for run")
    first_id = re.search(r"run (\S+) of daily requested", first.lines[0])
    assert first_id is not None
    assert f"waiting for run {first_id.group(1)} (manual by first@example.com, processing since" in line
    ws.release("go")
    assert _shown(second.rest(), ws) == snapshot
    first.rest()


def test_a_task_says_which_run_holds_its_configuration(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("one", {"p": [task("a", "ex/shared", gate="go")]})
    ws.orchestrate("two", {"p": [task("b", "ex/shared")]})
    first = Lines(ws.start("run", "one"))
    first.wait_for("task a started")
    second = Lines(ws.start("run", "two"))
    line = second.wait_for("waiting for configuration")
    holder = re.search(r"run (\S+) of one requested", first.lines[0])
    assert holder is not None
    assert line.endswith(f"task b waiting for configuration ex/shared: in use by task a of run {holder.group(1)} (one)")
    ws.release("go")
    assert _shown(second.rest(), ws) == snapshot
    first.rest()


def test_a_long_task_gets_a_line_with_its_elapsed_time(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go"), task("quick")]})
    run = Lines(ws.start("run", "daily", env=FAST))
    line = run.wait_for("task a running for")
    assert re.fullmatch(r"\d\d:\d\d:\d\d    task a running for \d+\.\ds", line)
    wait_until(lambda: len([x for x in run.lines if "task a running for" in x]) >= 2, what="a second line")
    ws.release("go")
    lines = run.rest()
    ended = next(i for i, x in enumerate(lines) if "task quick success" in x)
    assert not [x for x in lines[ended:] if "quick running" in x]  # an ended task is not reported any more
    assert re.search(r"  run \S+ success in \d+\.\ds$", lines[-1])


def test_a_waiting_run_gets_a_line_with_how_long_it_waits(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go")]})
    first = Lines(ws.start("run", "daily"))
    first.wait_for("task a started")
    second = Lines(ws.start("run", "daily", env=FAST))
    line = second.wait_for(r"waiting for \d+\.\ds")
    assert re.search(r"run \S+ waiting for \d+\.\ds \(for run \S+\)$", line)
    ws.release("go")
    assert re.search(r"  run \S+ success in \d+\.\ds$", second.rest()[-1])
    first.rest()


def test_a_bad_progress_interval_is_one_line_and_exit_2(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    for value in ("soon", "-1"):
        process = ws.start("run", "daily", env={"ORCHRECON_PROGRESS_INTERVAL": value})
        done = ws.finish(process)
        assert (done.code, done.out) == (2, "")
        assert done.err == snapshot
    assert ws.requested() == []  # refused before anything was recorded


def test_a_task_started_on_a_dask_worker_says_which_and_a_local_one_says_nothing_more() -> None:
    out = io.StringIO()
    progress = Progress(out, color=False)
    started = {"type": "task.started", "time": "2026-03-27T04:15:02.000Z", "run": "r", "phase": "main"}
    progress({**started, "task": "mart", "config": "tr-sql/mart", "worker": "tcp://10.0.0.5:39211"})
    progress({**started, "task": "orders", "config": "ex/orders"})
    assert out.getvalue().splitlines() == [
        "04:15:02    task mart started (tr-sql/mart) on tcp://10.0.0.5:39211",
        "04:15:02    task orders started (ex/orders)",
    ]
