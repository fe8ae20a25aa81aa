"""Who hears of a run and what they read: the pure decisions of orchrecon.runs.notifications."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.documents.model import Event, FromEnv, Notification, Orchestration, Project
from orchrecon.runs import notifications as n
from orchrecon.runs.notifications import Channel, PastRun
from orchrecon.runs.state import PhaseView, RunStatus, RunView, StepStatus, TaskView

RUN = "20260701-060000-abc123"
S, E, T, W, C = RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.TERMINATED, RunStatus.WARNING, RunStatus.CANCELLED


def view(status: RunStatus, *, by: str | None = None, trigger: str = "schedule", seq: int = 100) -> RunView:
    failed = status in (E, T)
    tasks = [
        TaskView("orders", "ex-shop/orders", True, True, False, StepStatus.SUCCESS),
        TaskView(
            "customers",
            "ex-shop/customers",
            True,
            True,
            False,
            StepStatus.ERROR if failed else StepStatus.SUCCESS,
            error="exit code 3: ConnectionError: shop.example refused\n  (after 3 tries)" if failed else None,
        ),
    ]
    return RunView(
        id=RUN,
        orchestration="daily-sales",
        requested_seq=seq,
        requested_at="2026-07-01T06:00:00.000Z",
        trigger=trigger,
        by=by,
        retry_of="20260630-060000-def456" if trigger == "retry" else None,
        revision="0123456789abcdef0123456789abcdef01234567",
        dirty=False,
        phases=[PhaseView("extract", tasks, StepStatus.ERROR if failed else StepStatus.SUCCESS)],
        status=status,
        started_at="2026-07-01T06:00:01.000Z",
        finished_at="2026-07-01T06:04:31.500Z" if status.finished else None,
    )


def past(*statuses: RunStatus) -> list[PastRun]:
    """Earlier runs, oldest first, each lasting 60 s."""
    return [
        PastRun(seq=i, status=s, started_at="2026-06-30T06:00:00.000Z", finished_at="2026-06-30T06:01:00.000Z")
        for i, s in enumerate(statuses, start=1)
    ]


@pytest.mark.parametrize(
    ("status", "before", "events"),
    [
        (S, (), ["succeeded"]),
        (S, (S,), ["succeeded"]),
        (S, (E,), ["succeeded", "recovered"]),
        (S, (S, T), ["succeeded", "recovered"]),
        (S, (E, E, E), ["succeeded", "recovered"]),
        (S, (E, S), ["succeeded"]),  # recovered once, on the transition
        (S, (E, C), ["succeeded", "recovered"]),  # a run cancelled before it started changes nothing
        (S, (E, W), ["succeeded", "recovered"]),  # nor does a warning: it is no success
        (W, (E,), ["warning"]),
        (E, (S,), ["failed"]),
        (T, (), ["failed"]),
        (C, (E,), []),
    ],
)
def test_end_events(status: RunStatus, before: tuple[RunStatus, ...], events: list[str]) -> None:
    assert [e.value for e in n.end_events(view(status), past(*before))] == events


def test_only_earlier_runs_count_for_recovered() -> None:
    later = [PastRun(seq=200, status=E, started_at=None, finished_at=None)]
    assert n.end_events(view(S), later) == [Event.SUCCEEDED]


TEAM = Notification(events=frozenset({Event.FAILED, Event.RECOVERED}), email="team@example.com")
HOOK = Notification(events=frozenset({Event.FAILED}), webhook=FromEnv(var="SLACK_WEBHOOK"))
LOUD = Notification(events=frozenset(Event), webhook="https://hooks.example/T0/B0/secret", overtime_percent=20)


@pytest.mark.parametrize(
    ("by", "events", "configured", "expected"),
    [
        (None, [Event.FAILED], [TEAM, HOOK], ["failed/email/team@example.com", "failed/webhook/1"]),
        (None, [Event.SUCCEEDED, Event.RECOVERED], [TEAM, HOOK], ["recovered/email/team@example.com"]),
        (None, [Event.WARNING], [TEAM, HOOK], []),
        (None, [Event.FAILED], [], []),
        # A person hears of their own run going wrong, whatever the settings; not of each success.
        ("ana@example.com", [Event.FAILED], [TEAM, HOOK], ["failed/email/ana@example.com"]),
        ("ana@example.com", [Event.FAILED], [], ["failed/email/ana@example.com"]),
        ("ana@example.com", [Event.WARNING], [], ["warning/email/ana@example.com"]),
        ("ana@example.com", [Event.PROCESSING_LONG], [], ["processing-long/email/ana@example.com"]),
        ("ana@example.com", [Event.SUCCEEDED, Event.RECOVERED], [LOUD], []),
        (None, [Event.FAILED], [TEAM, TEAM], ["failed/email/team@example.com"]),  # listed twice, told once
    ],
)
def test_who_is_told(by: str | None, events: list[Event], configured: list[Notification], expected: list[str]) -> None:
    found = n.deliveries(view(E, by=by), events, configured)
    assert [d.key.removeprefix(f"{RUN}/") for d in found] == expected


def test_a_webhook_is_recorded_by_its_origin_and_keyed_by_its_place_never_its_url() -> None:
    (delivery,) = n.deliveries(view(E), [Event.FAILED], [LOUD])
    assert delivery.channel is Channel.WEBHOOK
    assert delivery.recipient == "https://hooks.example"
    assert "secret" not in delivery.key
    assert n.shown_recipient(Channel.WEBHOOK, FromEnv(var="SLACK_WEBHOOK")) == "fromEnv SLACK_WEBHOOK"
    assert n.webhook_origin("http://127.0.0.1:8080/a/b?token=x") == "http://127.0.0.1:8080"


def test_the_orchestration_s_notifications_replace_the_project_s_defaults() -> None:
    orchestration = Orchestration(
        name="x", description="", suspend=False, phases=(), schedules=(), trigger=None, notifications=(HOOK,)
    )
    assert n.effective(orchestration, Project(notifications=(TEAM,))) == (HOOK,)
    bare = Orchestration(
        name="x", description="", suspend=False, phases=(), schedules=(), trigger=None, notifications=()
    )
    assert n.effective(bare, Project(notifications=(TEAM,))) == (TEAM,)


def test_processing_long_compares_with_the_last_20_successful_runs() -> None:
    quick = [
        PastRun(seq=i, status=S, started_at="2026-06-30T06:00:00Z", finished_at="2026-06-30T06:00:10Z")
        for i in range(1, 30)
    ]
    slow = [PastRun(seq=0, status=S, started_at="2026-06-30T06:00:00Z", finished_at="2026-06-30T07:00:00Z")]
    failed = [PastRun(seq=40, status=E, started_at="2026-06-30T06:00:00Z", finished_at="2026-06-30T09:00:00Z")]
    assert n.average_duration(slow + quick + failed, before_seq=100) == timedelta(seconds=10)
    assert n.average_duration(failed, before_seq=100) is None
    assert n.average_duration(quick, before_seq=1) is None  # none before it
    assert n.overtime(timedelta(seconds=10), 50) == timedelta(seconds=15)


def test_a_person_s_processing_long_uses_the_tightest_threshold_configured() -> None:
    (mine,) = n.deliveries(view(RunStatus.PROCESSING, by="ana@example.com"), [Event.PROCESSING_LONG], [TEAM, LOUD])
    assert mine.overtime_percent == 20
    (default,) = n.deliveries(view(RunStatus.PROCESSING, by="ana@example.com"), [Event.PROCESSING_LONG], [])
    assert default.overtime_percent == 50


@pytest.mark.parametrize("event", list(Event), ids=lambda e: e.value)
def test_subject_text_and_bodies(event: Event, snapshot: SnapshotAssertion) -> None:
    status = {Event.FAILED: E, Event.WARNING: W, Event.PROCESSING_LONG: RunStatus.PROCESSING}.get(event, S)
    run = view(status, by="ana@example.com", trigger="retry")
    average = timedelta(minutes=3) if event is Event.PROCESSING_LONG else None
    rendered = {
        "subject": n.subject(run, event),
        "email": n.email_body(run, event, average),
        "webhook": json.dumps(n.webhook_body(run, event, average), indent=2),
    }
    assert rendered == snapshot


def test_the_text_line_is_one_line_and_cuts_long_errors() -> None:
    run = view(E)
    run.phases[0].tasks[1].error = "boom\n" * 500
    line = n.text_line(run, Event.FAILED)
    assert "\n" not in line
    assert line.endswith("…")
    assert len(n.failed_tasks(run)[0]["error"] or "") == n.ERROR_EXCERPT
    assert n.started_how(view(E, trigger="trigger")) == "triggered by table updates"
    assert n.subject(run, Event.FAILED) == "[orchrecon] daily-sales failed"
