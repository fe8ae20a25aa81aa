"""Status files and reports as the reconciler, `run` and `retry` write them, and `report` rebuilding them
byte for byte from the ledger alone. Real git, real processes, the installed command line."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.app import open_app
from orchrecon.cli import main
from orchrecon.gitsource import LocalSource
from orchrecon.reconcile.reconciler import Reconciler
from tests.builders import clone_with_remote, git, write
from tests.clocks import FakeClock
from tests.execution import builders
from tests.execution.builders import Done, Workspace, normalise, task
from tests.reports.test_mermaid import NODE, chart_of, parse
from tests.statuses import read_status

DAILY = {
    "extract": [task("orders"), task("campaigns", continue_on_failure=True, exit=3)],
    "transform": [task("mart")],
}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


def setup(ws: Workspace) -> None:
    """daily-sales (a schedule, a trigger, a continue-on-failure task that fails) and nightly (fails)."""
    ws.orchestrate("daily-sales", DAILY)
    ws.orchestrate("nightly", {"main": [task("load", exit=4)]})
    path = ws.root / "orchestrations" / "daily-sales.yaml"
    path.write_text(
        path.read_text()
        + "  schedules: [{cron: '0 6 * * *', timezone: UTC}]\n"
        + "  trigger: {tables: [in.c-shop.orders, in.c-crm.customers], cooldown: 5m}\n"
    )
    ws.commit()


def cli(ws: Workspace, *args: str) -> Done:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["-C", str(ws.root), "--state-dir", str(ws.state), *args])
    return Done(code, out.getvalue(), err.getvalue())


def files(state: Path) -> dict[str, bytes]:
    found = {f"status/{p.name}": p.read_bytes() for p in (state / "status").glob("*.json")}
    found.pop("status/_reconciler.json", None)  # the reconciler's heartbeat, not derived from the ledger
    return found | {f"reports/{p.name}": p.read_bytes() for p in (state / "reports").glob("*.md")}


def history(ws: Workspace) -> None:
    """Reconcile passes and runs, each writing what it touched."""
    assert ws.orchrecon("reconcile", "--once").code == 0
    _, done = ws.run("daily-sales", "--as", "ana@example.com")
    assert done.code == 0, done.err
    failed, done = ws.run("nightly")
    assert done.code == 1
    assert ws.orchrecon("retry", failed, "--as", "ana@example.com").code == 1
    assert ws.orchrecon("tables", "touch", "in.c-shop.orders").code == 0
    assert ws.orchrecon("reconcile", "--once").code == 0
    _, done = ws.run("daily-sales", "--as", "ana@example.com")
    assert done.code == 0


def test_report_rebuilds_byte_identical_files_from_the_ledger(ws: Workspace) -> None:
    setup(ws)
    history(ws)
    written = files(ws.state)
    assert set(written) == {
        "status/daily-sales.json",
        "status/nightly.json",
        "reports/README.md",
        "reports/daily-sales.md",
        "reports/nightly.md",
    }
    shutil.rmtree(ws.state / "status")
    shutil.rmtree(ws.state / "reports")
    done = ws.orchrecon("report")
    assert (done.code, done.out.split(" in ")[0]) == (0, "wrote 2 reports and the index")
    assert files(ws.state) == written


def test_reports_after_runs_a_failure_and_a_retry(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    setup(ws)
    history(ws)
    reports = ws.state / "reports"
    for name in ("README.md", "daily-sales.md", "nightly.md"):
        assert normalised(ws, (reports / name).read_text()) == snapshot(name=name)


def test_a_run_rewrites_its_own_report_and_the_index_only(ws: Workspace) -> None:
    setup(ws)
    assert ws.orchrecon("reconcile", "--once").code == 0
    reports = ws.state / "reports"
    before = {p.name: p.stat().st_ino for p in reports.iterdir()}
    _, done = ws.run("daily-sales")
    assert done.code == 0
    after = {p.name: p.stat().st_ino for p in reports.iterdir()}
    assert [n for n in sorted(before) if before[n] != after[n]] == ["README.md", "daily-sales.md"]
    assert read_status(ws.state, "daily-sales")["recentRuns"][0]["status"] == "warning"


def test_status_shows_the_index_and_one_orchestration(ws: Workspace, snapshot: SnapshotAssertion) -> None:
    setup(ws)
    history(ws)
    index, one = cli(ws, "status"), cli(ws, "status", "nightly")
    assert (index.code, one.code) == (0, 0)
    assert columns(normalised(ws, index.out)) == snapshot(name="index")
    assert columns(normalised(ws, one.out)) == snapshot(name="nightly")


def test_status_json_prints_the_status_files_content(ws: Workspace) -> None:
    setup(ws)
    history(ws)
    done = cli(ws, "status", "daily-sales", "--format", "json")
    assert json.loads(done.out) == read_status(ws.state, "daily-sales")
    every = json.loads(cli(ws, "status", "--format", "json").out)
    assert [s["name"] for s in every] == ["daily-sales", "nightly"]


def test_status_of_an_unknown_orchestration_is_one_line_and_exit_2(ws: Workspace) -> None:
    setup(ws)
    assert ws.orchrecon("reconcile", "--once").code == 0
    done = ws.orchrecon("status", "nope")
    assert done.code == 2
    assert done.err == "orchrecon: error: no orchestration 'nope' in the ledger (known: daily-sales, nightly)\n"


def normalised(ws: Workspace, text: str) -> str:
    """Run ids, times, durations, revisions and the temporary paths replaced by placeholders."""
    return builders.normalise_report(normalise(text, ws.root, ws.state))


def columns(text: str) -> str:
    """Aligned columns with one width: their padding follows durations, which vary from run to run."""
    return re.sub(r"  +", "  ", text)


def test_the_long_running_reconciler_keeps_reports_current_and_report_agrees(ws: Workspace) -> None:
    setup(ws)
    clock = FakeClock(datetime(2026, 3, 2, 5, 59, tzinfo=UTC))
    app = open_app(ws.root, ws.state, environ=dict(os.environ), clock=clock)
    reconciler = Reconciler(app, LocalSource(ws.root), interval=timedelta(hours=1), log=lambda *_: None)
    reconciler.acquire()

    def count(kind: str) -> int:
        return sum(1 for r in ws.ledger() if r["type"] == kind)

    def decisions_are(n: int) -> bool:
        return count("trigger.fired") + count("trigger.suppressed") == n

    async def scenario() -> None:
        loop = asyncio.create_task(reconciler.serve())
        await until(lambda: count("schedule.armed") == 1)
        clock.advance(timedelta(minutes=1, seconds=1))  # 06:00:01: the schedule fires
        await until(lambda: count("run.finished") == 1)
        updates = (("in.c-shop.orders", 1), ("in.c-crm.customers", 1), ("in.c-crm.customers", 10))
        for decided, (table, minutes) in enumerate(updates, start=1):
            clock.advance(timedelta(minutes=minutes))
            app.ledger.append_one("table.updated", table=table, source="test")
            await until(partial(decisions_are, decided))
        await until(lambda: count("run.finished") == 2)
        await until(lambda: "trigger fired" in (ws.state / "reports" / "daily-sales.md").read_text())
        reconciler.stop()
        await loop

    asyncio.run(scenario())
    reconciler.release()
    report = (ws.state / "reports" / "daily-sales.md").read_text()
    assert (
        "| 2026-03-02 06:00:01Z | schedule fired for the 2026-03-02 06:00 +00:00 (UTC) slot of `0 6 * * *` |" in report
    )
    assert "trigger did not fire: waiting for `in.c-crm.customers`" in report
    assert "trigger did not fire: every table was updated, but the cool-down lasts until" in report
    written = files(ws.state)
    shutil.rmtree(ws.state / "status")
    shutil.rmtree(ws.state / "reports")
    assert cli(ws, "report").code == 0
    assert files(ws.state) == written


async def until(predicate: Callable[[], bool], timeout: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


@pytest.mark.skipif(NODE is None, reason="Node is not installed: the mermaid parser runs under Node")
def test_the_chart_of_a_real_run_parses_with_its_exact_task_times(ws: Workspace) -> None:
    setup(ws)
    run_id, _ = ws.run("daily-sales")
    (result,) = parse(chart_of((ws.state / "reports" / "daily-sales.md").read_text()))
    tasks = {t["name"]: t for p in ws.show(run_id)["phases"] for t in p["tasks"]}
    assert result["ok"], result
    assert [(t["task"], t["start"], t["end"]) for t in result["tasks"]] == [
        (f"{n} {tasks[n]['status']}", tasks[n]["startedAt"], tasks[n]["finishedAt"])
        for n in ("orders", "campaigns", "mart")
    ]


def test_the_reconciler_rewrites_only_what_a_change_touched(ws: Workspace) -> None:
    setup(ws)
    clock = FakeClock(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))
    app = open_app(ws.root, ws.state, environ=dict(os.environ), clock=clock)
    reconciler = Reconciler(app, LocalSource(ws.root), interval=timedelta(hours=1), log=lambda *_: None)
    reconciler.acquire()
    try:
        asyncio.run(reconciler.serve(once=True))
        folders = (ws.state / "reports", ws.state / "status")
        before = {p.name: p.stat().st_ino for f in folders for p in f.iterdir()}
        clock.advance(timedelta(minutes=1))
        app.ledger.append_one("table.updated", table="in.c-shop.orders", source="test")  # daily-sales's trigger
        reconciler.evaluate(clock.now())
        reconciler.write_statuses()
    finally:
        reconciler.release()
    after = {p.name: p.stat().st_ino for f in folders for p in f.iterdir()}
    assert sorted(n for n in before if before[n] != after[n]) == ["README.md", "daily-sales.json", "daily-sales.md"]
    assert (
        "| `in.c-shop.orders` | 2026-03-02 05:01:00Z | updated |"
        in (ws.state / "reports" / "daily-sales.md").read_text()
    )


def test_report_reads_a_remote_sources_revisions_from_the_reconcilers_mirror(tmp_path: Path) -> None:
    clone = clone_with_remote(tmp_path)
    write(clone, "orchestrations/broken.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\nmetadata: {name: 1}\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "an invalid orchestration")
    git(clone, "push", "-q", "origin", "main")
    state, elsewhere = tmp_path / "state", tmp_path / "elsewhere"
    (elsewhere / "orchestrations").mkdir(parents=True)
    git(elsewhere, "init", "-q")  # a repository that has none of the revisions
    base = ["-C", str(elsewhere), "--state-dir", str(state)]
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert (
            main([*base, "reconcile", "--git", str(tmp_path / "remote.git"), "--once"]) == 0
        )  # an invalid document is a status, not a failure
    written = files(state)
    assert "orchestrations/broken.yaml:3:" in written["reports/broken.md"].decode()
    shutil.rmtree(state / "status")
    shutil.rmtree(state / "reports")
    with redirect_stdout(io.StringIO()):
        assert main([*base, "report"]) == 0
    assert files(state) == written
