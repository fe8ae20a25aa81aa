"""Schedule decisions (`orchrecon.scheduling.slots`), one test per sentence of docs/runs.md on schedules.

`decide` is pure: the slots in (since, now], each on time (fire), missed, or suspended. `ScheduleBook`
keeps each followed schedule's next slot so that a tick only looks at what is due. Every time below is
an explicit aware UTC datetime or advanced through `tests.clocks.FakeClock`; the real clock is never read.

Europe/Prague 2026: 03-29 01:00Z local 02:00 -> 03:00 (+01 -> +02); 10-25 01:00Z local 03:00 -> 02:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orchrecon.documents.model import CatchUp, Orchestration, Schedule
from orchrecon.scheduling.slots import (
    GRACE,
    MAX_MISSED_RECORDS,
    ScheduleBook,
    SlotDecision,
    SlotKind,
    decide,
    schedule_key,
)
from tests.clocks import FakeClock

PRAGUE = "Europe/Prague"
HOURLY = "0 * * * *"
DAILY_SIX = "0 6 * * *"


def _utc(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An instant of 2026, in UTC."""
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def _schedule(cron: str = HOURLY, *, zone: str = "UTC", catch_up: CatchUp = CatchUp.LATEST) -> Schedule:
    return Schedule(cron=cron, timezone=zone, catch_up=catch_up)


def _orchestration(name: str, *schedules: Schedule, suspend: bool = False) -> Orchestration:
    return Orchestration(
        name=name, description="", suspend=suspend, phases=(), schedules=schedules, trigger=None, notifications=()
    )


def _missed(slot: datetime, *, catch_up: bool = False, also_missed: int = 0) -> SlotDecision:
    return SlotDecision(slot=slot, kind=SlotKind.MISSED, catch_up=catch_up, also_missed=also_missed)


def _fire(slot: datetime) -> SlotDecision:
    return SlotDecision(slot=slot, kind=SlotKind.FIRE)


def _slots(decisions: list[SlotDecision]) -> list[datetime]:
    return [d.slot for d in decisions]


# --- decide: on-time slots, catch-up after downtime ---


def test_an_on_time_slot_fires() -> None:
    decisions = decide(_schedule(), since=_utc(3, 2, 5), now=_utc(3, 2, 6, 0, 20))

    assert decisions == [_fire(_utc(3, 2, 6))]


def test_a_slot_decided_within_the_grace_is_on_time_and_one_older_was_missed() -> None:
    slot = _utc(3, 2, 6)

    assert decide(_schedule(), since=_utc(3, 2, 5), now=slot + GRACE) == [_fire(slot)]
    assert decide(_schedule(), since=_utc(3, 2, 5), now=slot + GRACE + timedelta(seconds=1)) == [
        _missed(slot, catch_up=True)
    ]


def test_nothing_is_decided_before_the_first_slot_of_the_window() -> None:
    assert decide(_schedule(), since=_utc(3, 2, 5), now=_utc(3, 2, 5, 59, 59)) == []


def test_catch_up_latest_records_every_missed_slot_and_catches_up_only_the_most_recent() -> None:
    decisions = decide(_schedule(), since=_utc(3, 2, 5), now=_utc(3, 2, 9, 30))

    assert decisions == [
        _missed(_utc(3, 2, 6)),
        _missed(_utc(3, 2, 7)),
        _missed(_utc(3, 2, 8)),
        _missed(_utc(3, 2, 9), catch_up=True),
    ]


def test_catch_up_none_records_every_missed_slot_and_requests_nothing() -> None:
    schedule = _schedule(catch_up=CatchUp.NONE)

    decisions = decide(schedule, since=_utc(3, 2, 5), now=_utc(3, 2, 9, 30))

    assert decisions == [
        _missed(_utc(3, 2, 6)),
        _missed(_utc(3, 2, 7)),
        _missed(_utc(3, 2, 8)),
        _missed(_utc(3, 2, 9)),
    ]


def test_a_missed_slot_followed_by_an_on_time_slot_fires_the_on_time_one_and_catches_up_nothing() -> None:
    decisions = decide(_schedule(), since=_utc(3, 2, 5), now=_utc(3, 2, 8, 0, 30))

    assert decisions == [
        _missed(_utc(3, 2, 6)),
        _missed(_utc(3, 2, 7)),
        _fire(_utc(3, 2, 8)),
    ]
    assert [d for d in decisions if d.catch_up] == []


def test_a_long_downtime_records_at_most_max_missed_records_and_counts_the_rest_on_the_last() -> None:
    since, now = _utc(3, 1), _utc(3, 2)  # 1440 slots of `* * * * *` in (since, now]

    decisions = decide(_schedule("* * * * *"), since=since, now=now)

    missed = [d for d in decisions if d.kind is SlotKind.MISSED]
    assert len(missed) == MAX_MISSED_RECORDS == 100
    assert _slots(missed[:-1]) == [since + timedelta(minutes=m) for m in range(1, 100)]
    assert missed[-1] == _missed(_utc(3, 1, 23, 58), also_missed=1440 - 2 - 100)
    assert [d.also_missed for d in missed[:-1]] == [0] * 99
    assert decisions[-2:] == [_fire(_utc(3, 1, 23, 59)), _fire(now)]


def test_a_long_downtime_catches_up_the_most_recent_slot_when_none_is_on_time() -> None:
    since, now = _utc(3, 1), _utc(3, 2, 0, 0, 30)  # 1440 slots, all missed with no grace

    decisions = decide(_schedule("* * * * *"), since=since, now=now, grace=timedelta(0))

    assert len(decisions) == MAX_MISSED_RECORDS
    assert decisions[-1] == _missed(now.replace(second=0), catch_up=True, also_missed=1440 - 100)
    assert [d for d in decisions if d.catch_up] == [decisions[-1]]


# --- "A new schedule never fires for slots before it appeared." ---


def test_a_new_schedule_never_fires_for_slots_before_it_appeared() -> None:
    appeared = _utc(3, 2, 6, 30)  # the 06:00 slot has just passed
    book = ScheduleBook()
    [key] = book.follow(_orchestration("daily", _schedule(DAILY_SIX)), {}, appeared)

    assert book.since[key] == appeared
    assert decide(_schedule(DAILY_SIX), since=book.since[key], now=_utc(3, 3, 5, 59)) == []
    assert decide(_schedule(DAILY_SIX), since=book.since[key], now=_utc(3, 3, 6)) == [_fire(_utc(3, 3, 6))]
    assert book.due(_utc(3, 3, 5, 59)) == []


# --- "not fired because the orchestration is suspended" ---


def test_a_suspended_orchestration_gets_suspended_decisions_and_nothing_fires() -> None:
    decisions = decide(_schedule(), since=_utc(3, 2, 5), now=_utc(3, 2, 8, 0, 30), suspended=True)

    assert decisions == [
        SlotDecision(slot=_utc(3, 2, 6), kind=SlotKind.SUSPENDED),
        SlotDecision(slot=_utc(3, 2, 7), kind=SlotKind.SUSPENDED),
        SlotDecision(slot=_utc(3, 2, 8), kind=SlotKind.SUSPENDED),
    ]
    assert [d for d in decisions if d.catch_up or d.kind is not SlotKind.SUSPENDED] == []


def test_every_schedule_decision_kind_is_fire_missed_or_suspended() -> None:
    assert {k.value for k in SlotKind} == {"fire", "missed", "suspended"}


# --- "A run happens at a single unambiguous point in time, with Debian cron's DST rules." ---


def test_spring_forward_a_skipped_wall_clock_time_fires_once_at_the_end_of_the_gap() -> None:
    schedule = _schedule("30 2 * * *", zone=PRAGUE)

    decisions = decide(schedule, since=_utc(3, 28, 12), now=_utc(3, 29, 1, 0, 30))

    assert decisions == [_fire(_utc(3, 29, 1))]
    assert decisions[0].slot.astimezone(ZoneInfo(PRAGUE)).isoformat() == "2026-03-29T03:00:00+02:00"


def test_fall_back_a_repeated_wall_clock_time_fires_once_at_its_first_occurrence() -> None:
    schedule = _schedule("30 2 * * *", zone=PRAGUE)

    decisions = decide(schedule, since=_utc(10, 24, 12), now=_utc(10, 25, 3))

    assert decisions == [_missed(_utc(10, 25, 0, 30), catch_up=True)]


def test_a_star_hour_schedule_fires_both_copies_of_a_repeated_hour() -> None:
    schedule = _schedule("30 * * * *", zone=PRAGUE, catch_up=CatchUp.NONE)

    decisions = decide(schedule, since=_utc(10, 25, 0), now=_utc(10, 25, 1, 30, 30))

    assert decisions == [_missed(_utc(10, 25, 0, 30)), _fire(_utc(10, 25, 1, 30))]
    local = [d.slot.astimezone(ZoneInfo(PRAGUE)).isoformat() for d in decisions]
    assert local == ["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"]


def test_a_star_hour_schedule_has_nothing_to_fire_in_a_skipped_hour() -> None:
    schedule = _schedule("30 * * * *", zone=PRAGUE, catch_up=CatchUp.NONE)

    decisions = decide(schedule, since=_utc(3, 29, 0), now=_utc(3, 29, 1, 30, 30))

    assert decisions == [_missed(_utc(3, 29, 0, 30)), _fire(_utc(3, 29, 1, 30))]
    assert [d.slot.astimezone(ZoneInfo(PRAGUE)).hour for d in decisions] == [1, 3]


def test_day_of_month_and_day_of_week_combine_as_in_debian_cron() -> None:
    since, now = _utc(3, 1), _utc(3, 31)
    none = CatchUp.NONE

    both = decide(_schedule("0 12 10 * 5", zone=PRAGUE, catch_up=none), since=since, now=now)
    weekday_only = decide(_schedule("0 12 * * 5", zone=PRAGUE, catch_up=none), since=since, now=now)

    assert [s.day for s in _slots(both)] == [6, 10, 13, 20, 27]  # the 10th (a Tuesday) OR Fridays
    assert [s.day for s in _slots(weekday_only)] == [6, 13, 20, 27]  # `*` day of month: Fridays only
    assert {s.hour for s in _slots(both)} == {11}  # 12:00 CET


def test_fire_times_are_whole_minutes() -> None:
    since, now = _utc(3, 2, 5, 0, 30), _utc(3, 2, 5, 3, 45)

    decisions = decide(_schedule("* * * * *"), since=since, now=now)

    assert _slots(decisions) == [_utc(3, 2, 5, 1), _utc(3, 2, 5, 2), _utc(3, 2, 5, 3)]
    assert {(s.second, s.microsecond) for s in _slots(decisions)} == {(0, 0)}


# --- ScheduleBook ---


def test_follow_returns_only_the_new_keys() -> None:
    now = _utc(3, 2, 5)
    hourly, daily = _schedule(HOURLY), _schedule(DAILY_SIX)
    orchestration = _orchestration("sales", hourly, daily)
    known = schedule_key("sales", hourly)
    book = ScheduleBook()

    assert book.follow(orchestration, {known: _utc(3, 2, 4)}, now) == ["sales:0 6 * * *@UTC"]
    assert book.since == {known: _utc(3, 2, 4), "sales:0 6 * * *@UTC": now}
    assert book.follow(orchestration, {}, now) == []
    assert book.keys_of("sales") == [known, "sales:0 6 * * *@UTC"]


def test_schedule_key_changes_with_the_cron_or_the_zone() -> None:
    key = schedule_key("sales", _schedule(DAILY_SIX))

    assert key == "sales:0 6 * * *@UTC"
    assert schedule_key("sales", _schedule(DAILY_SIX, catch_up=CatchUp.NONE)) == key
    assert schedule_key("sales", _schedule("0 7 * * *")) != key
    assert schedule_key("sales", _schedule(DAILY_SIX, zone=PRAGUE)) != key


def test_due_returns_each_due_key_once_and_nothing_before_its_time() -> None:
    book = ScheduleBook()
    [key] = book.follow(_orchestration("daily", _schedule(DAILY_SIX)), {}, _utc(3, 2, 5))

    assert book.due(_utc(3, 2, 5, 59, 59)) == []
    assert book.due(_utc(3, 2, 6)) == [key]
    assert book.due(_utc(3, 2, 6)) == []
    assert book.due(_utc(3, 9)) == []


def test_after_decided_a_key_is_not_due_again_until_its_next_slot() -> None:
    book = ScheduleBook()
    [key] = book.follow(_orchestration("daily", _schedule(DAILY_SIX)), {}, _utc(3, 2, 5))
    assert book.due(_utc(3, 2, 6)) == [key]

    book.decided(key, _utc(3, 2, 6))

    assert book.since[key] == _utc(3, 2, 6)
    assert book.next_fire() == _utc(3, 3, 6)
    assert book.due(_utc(3, 2, 6)) == []
    assert book.due(_utc(3, 3, 5, 59)) == []
    assert book.due(_utc(3, 3, 6)) == [key]


def test_deciding_a_key_twice_still_makes_it_due_once() -> None:
    book = ScheduleBook()
    [key] = book.follow(_orchestration("daily", _schedule(DAILY_SIX)), {}, _utc(3, 2, 5))

    book.decided(key, _utc(3, 2, 5, 30))
    book.decided(key, _utc(3, 2, 5, 30))

    assert book.due(_utc(3, 2, 6)) == [key]
    assert book.due(_utc(3, 2, 6)) == []


def test_forget_drops_the_key() -> None:
    book = ScheduleBook()
    [key] = book.follow(_orchestration("daily", _schedule(DAILY_SIX)), {}, _utc(3, 2, 5))

    book.forget([key])

    assert book.schedules == {}
    assert book.since == {}
    assert book.keys_of("daily") == []
    assert book.next_fire() is None
    assert book.due(_utc(3, 9)) == []


def test_next_fire_is_the_earliest_upcoming_slot() -> None:
    now = _utc(3, 2, 5, 10)
    book = ScheduleBook()
    book.follow(_orchestration("daily", _schedule(DAILY_SIX)), {}, now)
    book.follow(_orchestration("often", _schedule("45 * * * *")), {}, now)
    book.follow(_orchestration("prague", _schedule("20 6 * * *", zone=PRAGUE)), {}, now)  # 05:20Z

    assert book.next_fire() == _utc(3, 2, 5, 20)
    assert book.due(_utc(3, 2, 5, 20)) == ["prague:20 6 * * *@Europe/Prague"]
    assert book.next_fire() == _utc(3, 2, 5, 45)


def test_next_fire_is_none_with_nothing_followed() -> None:
    assert ScheduleBook().next_fire() is None


def test_with_a_thousand_schedules_a_tick_with_nothing_due_touches_nothing() -> None:
    now = _utc(3, 2, 5)
    book = ScheduleBook()
    for i in range(1000):
        book.follow(_orchestration(f"o{i:04d}", _schedule(f"{i % 60} {6 + i // 60} * * *")), {}, now)
    since = dict(book.since)

    assert book.due(_utc(3, 2, 5, 59, 59)) == []
    assert book.since == since
    assert book.next_fire() == _utc(3, 2, 6)
    assert book.due(_utc(3, 2, 6)) == ["o0000:0 6 * * *@UTC"]


# --- "Decisions are made by exactly one evaluator ... so no slot or update is ever decided twice." ---


def test_an_evaluator_loop_never_decides_a_slot_twice() -> None:
    clock = FakeClock(_utc(3, 2, 5))
    book = ScheduleBook()
    book.follow(_orchestration("often", _schedule("*/20 * * * *")), {}, clock.now())
    decided: list[datetime] = []
    for _ in range(30):  # ticks every 7 minutes, some with nothing due
        clock.advance(timedelta(minutes=7))
        for key in book.due(clock.now()):
            _, schedule = book.schedules[key]
            decided += _slots(decide(schedule, since=book.since[key], now=clock.now()))
            book.decided(key, clock.now())

    assert decided == [_utc(3, 2, 5, 20) + timedelta(minutes=20 * n) for n in range(10)]
