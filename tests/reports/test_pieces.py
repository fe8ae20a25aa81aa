"""The small pieces of the reports: decisions in plain words, trigger states, durations, cells, the
terminal form, a run with nothing to chart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from orchrecon.reports.decisions import decision_text
from orchrecon.reports.gantt import gantt
from orchrecon.reports.index import trigger_text
from orchrecon.reports.terminal import to_terminal
from orchrecon.reports.text import cell, code_block, seconds, span
from orchrecon.runs.state import fold
from tests.reports import scenes

SLOT = {"cron": "0 6 * * *", "timezone": "Europe/Prague", "slot": "2026-03-02T05:00:00Z"}


@pytest.mark.parametrize(
    ("record", "text"),
    [
        (
            {"type": "schedule.fired", **SLOT},
            "schedule fired for the 2026-03-02 06:00 +01:00 (Europe/Prague) slot of `0 6 * * *`",
        ),
        (
            {"type": "schedule.missed", "caughtUp": True, **SLOT},
            "the 2026-03-02 06:00 +01:00 (Europe/Prague) slot of `0 6 * * *` was missed while no reconciler ran;"
            " caught up with one run (catchUp: latest)",
        ),
        (
            {"type": "schedule.suppressed", "reason": "suspended", **SLOT},
            "the 2026-03-02 06:00 +01:00 (Europe/Prague) slot of `0 6 * * *` did not run:"
            " the orchestration is suspended",
        ),
        (
            {"type": "trigger.suppressed", "reason": "cooldown", "cooldownUntil": "2026-03-02T06:50:00.000Z"},
            "trigger did not fire: every table was updated, but the cool-down lasts until 2026-03-02T06:50:00.000Z",
        ),
        (
            {"type": "trigger.suppressed", "reason": "suspended", "message": "the orchestration is suspended"},
            "trigger did not fire: the orchestration is suspended",
        ),
    ],
)
def test_decisions_read_as_plain_words(record: dict[str, Any], text: str) -> None:
    assert decision_text(record) == text


@pytest.mark.parametrize(
    ("trigger", "text"),
    [
        (None, "-"),
        ({"state": "not armed"}, "not armed yet"),
        ({"state": "cooldown", "cooldownUntil": "2026-03-02T06:50:00.000Z"}, "cooling down until 2026-03-02 06:50:00Z"),
        ({"state": "fire"}, "armed: the next table update starts a run"),
        ({"state": "suspended"}, "suspended"),
    ],
)
def test_trigger_states(trigger: dict[str, Any] | None, text: str) -> None:
    assert trigger_text(trigger) == text


def test_durations_read_as_people_and_documents_write_them() -> None:
    assert [seconds(4.25), seconds(185), seconds(7800)] == ["4.2s", "3m05s", "2h10m"]
    assert [span(timedelta(minutes=50)), span(timedelta(hours=1, minutes=30)), span(timedelta(days=2))] == [
        "50m",
        "1h30m",
        "2d",
    ]


def test_a_cell_keeps_the_table_shape_and_the_terminal_form_restores_it() -> None:
    assert cell("a | b\nc \\ d") == "a \\| b c \\\\ d"
    markdown = "| A | B |\n|---|---|\n| " + cell("x | y") + " | `z` |\n"
    assert to_terminal(markdown) == "A      B\nx | y  z\n"


def test_a_code_block_fence_is_longer_than_any_backtick_run_inside() -> None:
    assert code_block(["``````"])[0] == "```````text"


def test_a_run_whose_tasks_never_started_has_no_chart() -> None:
    (view,) = fold(scenes.RETRIED[:1]).values()
    assert gantt(view, now=scenes.NOW) is None
