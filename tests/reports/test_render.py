"""The index and an orchestration's report, rendered from injected facts (times, run ids, revision)."""

from __future__ import annotations

import dataclasses

from syrupy.assertion import SnapshotAssertion

from orchrecon.reports.index import render_index, summary
from orchrecon.reports.orchestration import render_report
from orchrecon.reports.terminal import to_terminal
from tests.reports import scenes


def test_the_index_puts_problems_first_under_a_one_line_summary(snapshot: SnapshotAssertion) -> None:
    statuses = list(scenes.statuses().values())
    text = render_index(statuses)
    assert text.index("[broken](broken.md)") < text.index("[daily-sales](daily-sales.md)")
    assert summary(statuses).startswith(
        "3 orchestrations: 1 not ready, 1 failed in the last 24 h, next run daily-sales"
    )
    assert text == snapshot


def test_a_report_shows_the_failure_the_warning_and_the_retry(snapshot: SnapshotAssertion) -> None:
    text = render_report(scenes.facts())
    assert "retry of `20260327-020000-aaaaaa`" in text
    assert "| `adform-campaigns` | yes | yes | `days` |" not in text  # the definition table has the config too
    assert text == snapshot


def test_a_report_of_a_failed_run_shows_the_error_and_the_log_tail(snapshot: SnapshotAssertion) -> None:
    text = render_report(scenes.failed_facts())
    assert "`sales-mart` error: exited with code 2: relation sales does not exist" in text
    assert text == snapshot


def test_fire_times_mark_the_dst_change() -> None:
    text = render_report(scenes.facts())
    assert "| 2026-03-29 03:00 +02:00 | 2026-03-29 01:00Z | DST: UTC+01:00 → UTC+02:00 |" in text
    assert "- DST transition at 2026-03-29 01:00Z: UTC+01:00 → UTC+02:00" in text


def test_a_log_line_with_a_fence_cannot_close_the_code_block() -> None:
    text = render_report(scenes.facts())
    assert "````text\nbuilding sales\n```\ndone: 1,204 rows\n````" in text


def test_the_terminal_form_aligns_tables_and_leaves_the_chart_out(snapshot: SnapshotAssertion) -> None:
    text = to_terminal(render_report(scenes.facts()))
    assert "```" not in text.replace("    ```", "")
    assert "gantt" not in text
    assert text == snapshot


def test_runs_requested_faster_than_they_finish_are_warned_about_with_the_numbers() -> None:
    facts = scenes.facts()
    every_5m = [
        {"utc": f"2026-03-27T05:{m:02d}:00Z", "local": f"2026-03-27T06:{m:02d}:00+01:00"} for m in range(0, 25, 5)
    ]
    status = {**facts.status, "schedules": [{**facts.status["schedules"][0], "next": every_5m}]}
    text = render_report(dataclasses.replace(facts, status=status))
    assert (
        "> **Warning**: runs are requested faster than they finish: the median of the last 3 runs took 10m00s,"
        " the schedule requests one every 5m00s." in text
    )
    assert "Warning" not in render_report(facts)  # daily: 10 minutes is fine


def test_a_run_on_dask_workers_names_each_tasks_worker(snapshot: SnapshotAssertion) -> None:
    text = render_report(scenes.dask_facts())
    assert "| Task | Status | Duration | Exit code | Worker |" in text
    assert "| `shop-orders` | success | 1m00s | 0 | `tcp://10.0.0.5:39211` |" in text
    assert "| `adform-campaigns` | error (continues on failure) | 2m00s | 1 | local |" in text
    assert "| `crm-customers` | skipped | - | - | - |" in text
    assert text == snapshot


def test_the_terminal_form_of_a_run_on_dask_workers_keeps_the_worker_column(snapshot: SnapshotAssertion) -> None:
    text = to_terminal(render_report(scenes.dask_facts()))
    latest = text[text.index("Latest run") : text.index("Timeline")]
    assert "sales-mart  success  3m00s     0          tcp://10.0.0.7:40533" in latest
    assert latest == snapshot


def test_a_local_run_has_no_worker_column() -> None:
    assert "Worker" not in render_report(scenes.facts())
    assert "Worker" not in render_report(scenes.failed_facts())
