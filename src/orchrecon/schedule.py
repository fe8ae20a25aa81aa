"""When cron schedules fire, in IANA time zones, exactly as Debian cron decides across DST. Pure.

A schedule whose minute and hour fields are both fixed follows the local wall clock: each matching local
time fires once; one skipped by spring-forward fires at the first minute after the gap, one repeated by
fall-back at its first occurrence. A schedule whose minute or hour starts with `*` follows real time:
it fires at every instant whose local time matches, so both copies of a repeated hour fire and a
skipped hour has nothing to fire.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from orchrecon.cron import CronExpr, parse_cron

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Transition:
    """A change of a zone's UTC offset at `at` (UTC)."""

    at: datetime
    before: timedelta
    after: timedelta


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@cache
def _parsed(cron: str) -> tuple[CronExpr, tuple[tuple[int, int], ...]]:
    expr = parse_cron(cron)
    return expr, tuple(sorted((h, m) for h in expr.hours for m in expr.minutes))


def fire_times(cron: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """The instants strictly after `after` (aware) at which the schedule fires: aware UTC datetimes,
    whole minutes, strictly increasing; endless unless the expression never fires."""
    expr, times = _parsed(cron)
    if not expr.ever_fires():
        return
    tz = zone(timezone)
    last = after.astimezone(UTC)
    # Local dates never go back as real time passes, so no slot of an earlier local date can come later.
    day = last.astimezone(tz).date() - DAY
    while True:
        if day.month in expr.months and expr.day_matches(day.day, (day.weekday() + 1) % 7):
            for instant in _day_instants(day, times, tz, wall_clock=expr.wall_clock):
                if instant > last:  # also drops a second slot mapped onto the same instant (a gap)
                    last = instant
                    yield instant
        day += DAY


def next_fire_times(cron: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    return list(itertools.islice(fire_times(cron, timezone, after), count))


def _day_instants(day: date, times: tuple[tuple[int, int], ...], tz: ZoneInfo, *, wall_clock: bool) -> list[datetime]:
    instants: list[datetime] = []
    for hour, minute in times:
        local = datetime(day.year, day.month, day.day, hour, minute)
        first = local.replace(tzinfo=tz).astimezone(UTC)
        second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
        if first == second:
            instants.append(first)
        elif first.astimezone(tz).replace(tzinfo=None) == local:  # shown twice (fall-back)
            instants.extend((first,) if wall_clock else (first, second))
        elif wall_clock:  # never shown (spring-forward): the first minute after the gap
            instants.append(_gap_end(tz, second, first))
    # Within a day, both copies of a repeated hour interleave with the slots around them.
    return sorted(instants) if not wall_clock else instants


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
    tz = zone(timezone)
    found = []
    low = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while low < end:
        high = min(low + DAY, end)
        before, after = _offset(tz, low), _offset(tz, high)
        if before != after:
            found.append(Transition(at=_offset_change(tz, low, high), before=before, after=after))
        low = high
    return found
