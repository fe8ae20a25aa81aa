"""The gantt charts parse with the real mermaid package under Node, and the task list mermaid builds from
them (which rejects dates `parse()` lets through) has each task's section, name and exact times."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from functools import cache
from typing import Any

import pytest

from orchrecon.reports.gantt import gantt, name
from orchrecon.reports.orchestration import render_report
from tests.conftest import ROOT
from tests.reports import scenes

CHECKER = ROOT / "tests" / "mermaid"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node is not installed: the mermaid parser runs under Node")


@cache
def _install_checker() -> None:
    """The pinned mermaid and jsdom of tests/mermaid/package-lock.json, installed once (as `.ci/run` does),
    so README's test command needs no step of its own."""
    if (CHECKER / "node_modules" / "mermaid").is_dir():
        return
    npm = shutil.which("npm")
    assert npm is not None, f"node is here but npm is not: install the checker with `npm ci --prefix {CHECKER}`"
    done = subprocess.run(
        [npm, "ci", "--prefix", str(CHECKER), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, f"npm ci --prefix {CHECKER} failed: {done.stderr.strip()[-500:]}"


def parse(*charts: str) -> list[dict[str, Any]]:
    """Each chart through mermaid.parse() and the gantt's task list, in a real Node process."""
    _install_checker()
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(CHECKER / "check.mjs")],
        input=json.dumps(list(charts)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "TZ": "UTC"},  # the times in the chart are UTC
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def chart_of(markdown: str) -> str:
    match = re.search(r"```mermaid\n(.*?)```", markdown, re.S)
    assert match, "no mermaid chart"
    return match.group(1)


def test_the_report_charts_parse_and_keep_every_task_time() -> None:
    failed, retried = (chart_of(render_report(f)) for f in (scenes.failed_facts(), scenes.facts()))
    first, second = parse(failed, retried)
    assert first == {
        "ok": True,
        "type": "gantt",
        "tasks": [
            {
                "task": "shop-orders success",
                "section": "extract",
                "start": "2026-03-27T02:00:00.000Z",
                "end": "2026-03-27T02:01:30.000Z",
            },
            {
                "task": "adform-campaigns success",
                "section": "extract",
                "start": "2026-03-27T02:00:00.000Z",
                "end": "2026-03-27T02:03:00.000Z",
            },
            {
                "task": "sales-mart error",
                "section": "transform",
                "start": "2026-03-27T02:03:00.000Z",
                "end": "2026-03-27T02:10:00.000Z",
            },
        ],
    }
    assert [t["task"] for t in second["tasks"]] == ["sales-mart success"]


def test_a_task_still_running_ends_at_the_reports_time_and_milliseconds_are_kept() -> None:
    view = scenes.views()["20260327-040000-cccccc"]
    task = view.phases[1].tasks[0]
    task.started_at, task.finished_at = "2026-03-27T04:00:00.123Z", None
    lines = gantt(view, now=scenes.NOW)
    assert lines is not None
    (result,) = parse("\n".join(lines[1:-1]))
    assert result["ok"], result
    assert result["tasks"][0]["start"] == "2026-03-27T04:00:00.123Z"
    assert result["tasks"][0]["end"] == "2026-03-27T04:30:00.000Z"


def test_names_keep_no_mermaid_syntax() -> None:
    text = "gantt\n    dateFormat YYYY-MM-DD HH:mm:ss.SSS\n    section " + name("a: b # c; d")
    text += f"\n    {name('x:y;z#w')} :done, t1, 2026-03-27 04:00:00.000, 2026-03-27 04:00:01.000\n"
    (result,) = parse(text)
    assert result["ok"], result
    assert result["tasks"][0]["section"] == "a b c d"
    assert result["tasks"][0]["task"] == "x y z w"


def test_the_checker_does_reject_what_is_not_a_chart() -> None:
    (result,) = parse("gantt\n    dateFormat YYYY-MM-DD\n    nonsense :: ::\n")
    assert not result["ok"]
