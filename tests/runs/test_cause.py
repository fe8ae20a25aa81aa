"""What started a run, in words (the `cause` of `run.requested`)."""

from __future__ import annotations

from orchrecon.runs.cause import describe


def test_a_schedule_slot_is_shown_in_utc_and_on_the_schedule_s_wall_clock() -> None:
    cause = {"cron": "0 6 * * 1-5", "timezone": "Europe/Prague", "slot": "2026-07-01T04:00:00Z"}
    assert (
        describe(cause)
        == "schedule '0 6 * * 1-5' (Europe/Prague), the slot 2026-07-01T04:00:00Z (2026-07-01 06:00 local)"
    )
    assert describe({"cron": "@hourly", "timezone": "UTC", "slot": "2026-07-01T04:00:00Z", "caughtUp": True}) == (
        "schedule '@hourly' (UTC), the missed slot 2026-07-01T04:00:00Z"
    )


def test_trigger_tables_and_a_token_are_named() -> None:
    cause = {"tables": {"in.c-a": "2026-07-01T04:00:00.000Z", "in.c-b": None}, "token": "ci-bot"}
    assert describe(cause) == "trigger: in.c-a updated 2026-07-01T04:00:00.000Z, in.c-b updated never; API token ci-bot"


def test_no_cause_says_nothing() -> None:
    assert describe(None) is None
    assert describe({}) is None
    assert describe({"unknown": 1}) is None
