"""When cron schedules fire, in IANA time zones, exactly as Debian cron decides across DST. Pure.

A schedule whose minute and hour fields are both fixed follows the local wall clock: each matching local
time fires once; one skipped by spring-forward fires at the first minute after the gap, one repeated by
fall-back at its first occurrence. A schedule whose minute or hour starts with `*` follows real time:
it fires at every instant whose local time matches, so both copies of a repeated hour fire and a
skipped hour has nothing to fire.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from orchrecon.documents.cron import CronExpr, parse_cron

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
LAST_DAY = date(9998, 12, 31)  # the last local date with fire times: a day later, UTC may overflow


@dataclass(frozen=True)
class Transition:
    """A change of a zone's UTC offset at `at` (UTC)."""

    at: datetime
    before: timedelta
    after: timedelta


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True)
class _Compiled:
    expr: CronExpr
    times: tuple[tuple[int, int], ...]  # (hour, minute), sorted
    offsets: tuple[timedelta, ...]  # the same as time since local midnight
    minutes: tuple[int, ...]  # the same in minutes, for bisection
    every_day: bool  # day of month, month and day of week all unrestricted


@cache
def _compiled(cron: str) -> _Compiled:
    expr = parse_cron(cron)
    times = tuple(sorted((h, m) for h in expr.hours for m in expr.minutes))
    return _Compiled(
        expr=expr,
        times=times,
        offsets=tuple(timedelta(hours=h, minutes=m) for h, m in times),
        minutes=tuple(h * 60 + m for h, m in times),
        every_day=len(expr.days) == 31 and len(expr.months) == 12 and len(expr.weekdays) == 7,
    )


# No zone moves its clock by more than this at once (the largest, Samoa's 2011 date-line jump, is 24 h,
# which a day that does not exist at all handles through the exact path).
_MAX_SHIFT = timedelta(hours=3)


def fire_times(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """The instants strictly after `after` (aware) at which the schedule fires: aware UTC datetimes,
    whole minutes, strictly increasing; they end with LAST_DAY (datetime's calendar ends soon after),
    or at once if the expression never fires."""
    compiled = _compiled(cron)
    expr = compiled.expr
    if not expr.ever_fires():
        return
    tz = zone(timezone)
    last = after.astimezone(UTC)
    # Local dates never go back as real time passes, so no slot of an earlier local date can come later;
    # within the first day, slots well before `after` (by more than any clock shift) are skipped.
    early = (last - _MAX_SHIFT).astimezone(tz)
    day = early.date()
    skip = bisect.bisect_left(compiled.minutes, early.hour * 60 + early.minute)
    while day <= LAST_DAY:
        if compiled.every_day or (day.month in expr.months and expr.day_matches(day.day, (day.weekday() + 1) % 7)):
            for instant in _day_instants(day, compiled, tz, skip):
                if instant > last:  # also drops a second slot mapped onto the same instant (a gap)
                    last = instant
                    yield instant
        day += DAY
        skip = 0


def next_fire_times(cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    return list(itertools.islice(fire_times(cron, timezone, after), count))


def _day_instants(day: date, compiled: _Compiled, tz: ZoneInfo, skip: int) -> Iterator[datetime]:
    midnight = datetime(day.year, day.month, day.day)
    offset = tz.utcoffset(midnight)
    if offset is not None and offset == tz.utcoffset(midnight + DAY):
        # No change of offset this day (the common case): plain arithmetic, lazily.
        base = (midnight - offset).replace(tzinfo=UTC)
        for delta in compiled.offsets[skip:]:
            yield base + delta
        return
    yield from _transition_day(day, compiled, tz)


def _transition_day(day: date, compiled: _Compiled, tz: ZoneInfo) -> list[datetime]:
    """The exact rules for a day whose offset changes: each local time is shown once, twice or never."""
    wall_clock = compiled.expr.wall_clock
    instants: list[datetime] = []
    for hour, minute in compiled.times:
        local = datetime(day.year, day.month, day.day, hour, minute)
        first = local.replace(tzinfo=tz).astimezone(UTC)
        second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if first == second:
            instants.append(first)
        elif first.astimezone(tz).replace(tzinfo=None) == local:  # shown twice (fall-back)
            instants.extend((first,) if wall_clock else (first, second))
        elif wall_clock:  # never shown (spring-forward): the first minute after the gap
            instants.append(_gap_end(tz, second, first))
    # Both copies of a repeated hour interleave with the slots around them.
    return sorted(instants)


def _gap_end(tz: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The instant in (low, high] where the offset takes its later value, rounded up to a whole minute."""
    change = _offset_change(tz, low, high)
    whole = change.replace(second=0)
    return whole if whole == change else whole + MINUTE


def _offset_change(tz: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first whole second in (low, high] whose offset differs from low's (one change in between)."""
    before = _offset(tz, low)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _offset(tz, middle) == before:
            low = middle
        else:
            high = middle
    second = high.replace(microsecond=0)  # the change lies in (low, high], less than a second wide
    return second if _offset(tz, second) != before else second + timedelta(seconds=1)


def _offset(tz: ZoneInfo, instant: datetime) -> timedelta:
    """The zone's UTC offset at a UTC instant (tzinfo.utcoffset would read it as local time)."""
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def dst_transitions(timezone: str, start: datetime, end: datetime) -> list[Transition]:
    """Every change of the zone's UTC offset in (start, end], found to the second."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    years = range(start.year, min(end.year, LAST_DAY.year) + 1)  # the year after LAST_DAY's cannot be bisected
    return [t for year in years for t in _year_transitions(timezone, year) if start < t.at <= end]


@cache
def _year_transitions(timezone: str, year: int) -> tuple[Transition, ...]:
    """The changes in UTC year `year`: found by comparing offsets a day apart, then bisecting."""
    tz = zone(timezone)
    found = []
    low = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    before = _offset(tz, low)
    while low < end:
        high = min(low + DAY, end)
        after = _offset(tz, high)
        if before != after:
            found.append(Transition(at=_offset_change(tz, low, high), before=before, after=after))
        low, before = high, after
    return tuple(found)
