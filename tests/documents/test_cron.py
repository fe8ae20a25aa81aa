from __future__ import annotations

import pytest

from orchrecon.documents.cron import CronError, parse_cron
from orchrecon.documents.durations import format_duration, parse_duration


def test_fields_expand_to_sets() -> None:
    expr = parse_cron("0,30 6-8 1-31/10 jan,JUL mon-fri")
    assert expr.minutes == {0, 30}
    assert expr.hours == {6, 7, 8}
    assert expr.days == {1, 11, 21, 31}
    assert expr.months == {1, 7}
    assert expr.weekdays == {1, 2, 3, 4, 5}


def test_sunday_is_0_and_7() -> None:
    assert parse_cron("0 0 * * 7").weekdays == {0}
    assert parse_cron("0 0 * * 5-7").weekdays == {5, 6, 0}


@pytest.mark.parametrize(
    ("expr", "wall_clock", "day_star", "weekday_star"),
    [
        ("0 6 * * 1-5", True, True, False),
        ("30 2 1 * 1", True, False, False),
        ("*/15 * * * *", False, True, True),
        ("0 * * * *", False, True, True),
        ("0 */2 */2 * *", False, True, True),
        ("@daily", True, True, True),
        ("@hourly", False, True, True),
    ],
)
def test_debian_flags(expr: str, wall_clock: bool, day_star: bool, weekday_star: bool) -> None:
    parsed = parse_cron(expr)
    assert (parsed.wall_clock, parsed.day_star, parsed.weekday_star) == (wall_clock, day_star, weekday_star)


def test_day_of_month_and_weekday_or_when_both_restricted() -> None:
    expr = parse_cron("0 0 13 * 5")  # the 13th, or any Friday
    assert expr.day_matches(13, 2)
    assert expr.day_matches(6, 5)
    assert not expr.day_matches(6, 2)


def test_day_of_month_and_weekday_and_when_one_starts_with_star() -> None:
    expr = parse_cron("0 0 */2 * 5")  # odd days that are Fridays
    assert expr.day_matches(13, 5)
    assert not expr.day_matches(13, 2)
    assert not expr.day_matches(14, 5)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 25 * * *", "hour field '25': 25 is out of range 0-23"),
        ("60 * * * *", "minute field '60': 60 is out of range 0-59"),
        ("* * *", "cron '* * *' has 3 fields; expected 5 (minute hour day-of-month month day-of-week)"),
        ("0 6 L * *", "day-of-month field 'L': L, W, # and ? are not supported (Debian cron syntax)"),
        ("0 6 * * 5#2", "day-of-week field '5#2': L, W, # and ? are not supported (Debian cron syntax)"),
        ("0 6 15W * *", "day-of-month field '15W': L, W, # and ? are not supported (Debian cron syntax)"),
        ("5/10 * * * *", "minute field '5/10': step needs a range or * before it, e.g. */10 or 5-59/10"),
        ("*/0 * * * *", "minute field '*/0': step '0' must be a positive number"),
        ("0 6 5-1 * *", "day-of-month field '5-1': range '5-1' runs backwards"),
        (
            "0 6 * foo *",
            "month field 'foo': 'foo' is not a number "
            "(names: jan, feb, mar, apr, may, jun, jul, aug, sep, oct, nov, dec)",
        ),
        ("0 6 1,,2 * *", "day-of-month field '1,,2': empty list item"),
        (
            "@reboot",
            "unknown cron macro '@reboot' (known: @annually, @daily, @hourly, @midnight, @monthly, @weekly, @yearly)",
        ),
    ],
)
def test_errors_name_the_field(expr: str, message: str) -> None:
    with pytest.raises(CronError) as info:
        parse_cron(expr)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("expr", "gap"), [("*/5 * * * *", 5), ("0,58 * * * *", 2), ("0 6 * * *", 1440), ("0 */6 * * *", 360)]
)
def test_min_gap(expr: str, gap: int) -> None:
    assert parse_cron(expr).min_gap_minutes() == gap


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1d2h3m4s", 93784)]
)
def test_durations_round_trip(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds
    assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize("text", ["", "5", "5 m", "1m1h", "1.5h", "-5m", "5min"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
