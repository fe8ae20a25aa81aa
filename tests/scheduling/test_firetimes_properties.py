"""Properties of `scheduling.firetimes` for random valid cron expressions, zones and instants (docs/runs.md)."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchrecon.documents.cron import MACROS, CronExpr, parse_cron
from orchrecon.scheduling.firetimes import fire_times, next_fire_times

ZONES = [
    "UTC",
    "Europe/Prague",
    "Europe/London",
    "Europe/Dublin",  # negative DST in the tz source
    "Europe/Lisbon",
    "Europe/Moscow",
    "Europe/Kyiv",
    "Atlantic/Azores",
    "Africa/Cairo",
    "Africa/Casablanca",  # DST suspended during Ramadan
    "Asia/Beirut",  # transitions at midnight
    "Asia/Gaza",
    "Asia/Tehran",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Havana",  # transitions at midnight
    "America/Santiago",  # transitions at midnight
    "America/Sao_Paulo",  # DST until 2019
    "Australia/Sydney",
    "Australia/Adelaide",
    "Australia/Eucla",
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # transitions at 02:45
    "Pacific/Auckland",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Antarctica/Troll",  # two-hour DST
]

MINUTE = timedelta(minutes=1)
COUNT = 20


def _field(low: int, high: int, hot: list[int]) -> st.SearchStrategy[str]:
    """One cron field within its bounds: `*`, `*/n`, a value, a range, a stepped range, or a list of those."""
    value = st.one_of(st.sampled_from(hot), st.integers(low, high))
    pair = st.tuples(value, value).map(sorted)
    single = value.map(str)
    span = pair.map(lambda p: f"{p[0]}-{p[1]}")
    stepped = st.tuples(pair, st.integers(1, high)).map(lambda p: f"{p[0][0]}-{p[0][1]}/{p[1]}")
    star_step = st.integers(1, high).map(lambda n: f"*/{n}")
    items = st.lists(st.one_of(single, span, stepped), min_size=2, max_size=4).map(",".join)
    return st.one_of(st.just("*"), star_step, single, span, stepped, items)


MACRO_NAMES = sorted(MACROS)


def _expressions(hot_hours: list[int], hot_minutes: list[int]) -> st.SearchStrategy[str]:
    """Valid expressions that can fire; hours and minutes favour those around a transition."""
    five_fields = st.tuples(
        _field(0, 59, [0, 15, 30, 45, 50, 59, *hot_minutes]),
        _field(0, 23, [0, 1, 2, 3, 23, *hot_hours]),
        _field(1, 31, [1, 13, 28, 29, 30, 31]),
        _field(1, 12, [2, 3, 4, 9, 10, 11]),
        _field(0, 7, [0, 5, 6, 7]),
    ).map(" ".join)
    return st.one_of(five_fields, five_fields, five_fields, st.sampled_from(MACRO_NAMES)).filter(
        lambda text: parse_cron(text).ever_fires()
    )


def _offset(zone: ZoneInfo, t: datetime) -> timedelta:
    offset = t.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


@functools.cache
def _transitions(zone_name: str) -> list[datetime]:
    """UTC instants (whole minutes) of the zone's offset changes in 2020-2035, found independently."""
    zone = ZoneInfo(zone_name)
    found = []
    day = datetime(2020, 1, 1, tzinfo=UTC)
    while day.year < 2036:
        nxt = day + timedelta(days=1)
        if _offset(zone, day) != _offset(zone, nxt):
            low, high = day, nxt  # offset(low) differs from offset(high): bisect to the minute
            while high - low > MINUTE:
                mid = low + (high - low) // 2
                mid -= timedelta(seconds=mid.second, microseconds=mid.microsecond)
                if _offset(zone, mid) == _offset(zone, day):
                    low = mid
                else:
                    high = mid
            found.append(high)
        day = nxt
    return found


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, str, datetime]:
    """A zone, an expression and an instant, often just before one of the zone's transitions with hours and
    minutes around its skipped or repeated local times, so that gaps and repeats are reached."""
    zone_name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(zone_name)
    transitions = _transitions(zone_name)
    hot_hours: list[int] = []
    hot_minutes: list[int] = []
    if transitions and draw(st.integers(0, 3)) > 0:
        at = draw(st.sampled_from(transitions))
        walls = [at.replace(tzinfo=None) + _offset(zone, at + delta) for delta in (-MINUTE, timedelta(0))]
        hot_hours = sorted({wall.hour for wall in walls} | {(wall - MINUTE).hour for wall in walls})
        hot_minutes = sorted({wall.minute for wall in walls})
        window = draw(st.sampled_from([(-6 * 3600, 1800), (-2 * 86400, 2 * 86400)]))
        after = at + timedelta(seconds=draw(st.integers(*window)), microseconds=draw(st.sampled_from([0, 1, 500000])))
    else:
        after = draw(
            st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31, 23, 59, 59)).map(
                lambda d: d.replace(tzinfo=UTC)
            )
        )
    cron = draw(_expressions(hot_hours, hot_minutes))
    if draw(st.booleans()):
        after = after.astimezone(zone)  # the same instant, given in the schedule's zone
    return zone_name, cron, after


def _weekday(day: date) -> int:
    return (day.weekday() + 1) % 7  # cron: 0 = Sunday


def _matches(expr: CronExpr, wall: datetime) -> bool:
    return (
        wall.minute in expr.minutes
        and wall.hour in expr.hours
        and wall.month in expr.months
        and expr.day_matches(wall.day, _weekday(wall.date()))
    )


def _check_fires(cron: str, zone_name: str, after: datetime, fires: list[datetime]) -> None:
    expr = parse_cron(cron)
    zone = ZoneInfo(zone_name)
    assert len(fires) == COUNT
    for t in fires:
        assert t.tzinfo is UTC, f"{t!r} is not tzinfo=datetime.UTC"
        assert (t.second, t.microsecond) == (0, 0), f"{t!r} is not a whole minute"
    assert fires[0] > after
    assert all(a < b for a, b in itertools.pairwise(fires)), fires
    assert len({t.replace(second=0, microsecond=0) for t in fires}) == len(fires)
    for t in fires:
        local = t.astimezone(zone)
        wall = local.replace(tzinfo=None)
        if not expr.wall_clock:
            assert _matches(expr, wall), f"{t} = {local} does not match {cron!r}"
            continue
        if _matches(expr, wall):
            first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
            assert first == t, f"{t} = {local} is not the first occurrence of {wall} ({first})"
            continue
        # not a matching local time: it must be the end of a spring-forward gap that skipped a matching one
        before, now = _offset(zone, t - MINUTE), _offset(zone, t)
        assert before < now, f"{t} = {local} does not match {cron!r} and is not the end of a gap"
        gap_start = t.replace(tzinfo=None) + before  # the first skipped wall time
        skipped = [gap_start + n * MINUTE for n in range((now - before) // MINUTE)]
        assert any(_matches(expr, w) for w in skipped), f"{t} = {local}: no skipped local time matches {cron!r}"


def _gap_end(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first minute in (low, high] whose offset differs from low's."""
    while high - low > MINUTE:
        mid = low + ((high - low) // MINUTE // 2) * MINUTE
        if _offset(zone, mid) == _offset(zone, low):
            low = mid
        else:
            high = mid
    return high


def _instants(expr: CronExpr, wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The instants a matching local wall time fires at, by docs/runs.md."""
    candidates = {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}
    real = sorted(u for u in candidates if u.astimezone(zone).replace(tzinfo=None) == wall)
    if not expr.wall_clock:
        return real  # both copies of a repeated time; nothing for a skipped one
    if real:
        return real[:1]  # the first occurrence
    # skipped by spring-forward: fold=1 reads it with the later offset (before the gap), fold=0 with the earlier
    return [_gap_end(min(candidates), max(candidates), zone)]


def _reference(cron: str, zone_name: str, after: datetime, count: int) -> list[datetime]:
    """A slow, independent model: every matching local date and time, day by day."""
    expr = parse_cron(cron)
    zone = ZoneInfo(zone_name)
    after = after.astimezone(UTC)
    slots = sorted((hour, minute) for hour in expr.hours for minute in expr.minutes)
    day = after.astimezone(zone).date() - timedelta(days=1)
    found: set[datetime] = set()
    days_left: int | None = None
    while days_left != 0:
        if day.month in expr.months and expr.day_matches(day.day, _weekday(day)):
            for hour, minute in slots:
                wall = datetime(day.year, day.month, day.day, hour, minute)
                found.update(t for t in _instants(expr, wall, zone) if t > after)
        if days_left is None and len(found) >= count:
            days_left = 3  # later days can only add later instants (a gap may push one day's slot into the next)
        if days_left is not None:
            days_left -= 1
        day += timedelta(days=1)
    return sorted(found)[:count]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_first_fire_times_are_increasing_whole_minutes_matching_the_expression(
    scenario: tuple[str, str, datetime],
) -> None:
    zone, cron, after = scenario
    fires = next_fire_times(cron, zone, after, COUNT)
    _check_fires(cron, zone, after, fires)
    assert list(itertools.islice(fire_times(cron, zone, after), COUNT)) == fires


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_fire_times_agree_with_a_day_by_day_model(scenario: tuple[str, str, datetime]) -> None:
    zone, cron, after = scenario
    assert next_fire_times(cron, zone, after, COUNT) == _reference(cron, zone, after, COUNT)
