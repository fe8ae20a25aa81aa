"""Cron expressions with Debian cron's field syntax (parsing; iteration lives in `schedule`)."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = {
    n: i
    for i, n in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
_WEEKDAYS = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


_FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day-of-month", 1, 31, {}),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _WEEKDAYS),
)


_UNSUPPORTED = re.compile(r"[#?]|^L|^[0-9]*[LW]$", re.IGNORECASE)


class CronError(ValueError):
    """An invalid expression; the message names the field and what is wrong with it."""


@dataclass(frozen=True, kw_only=True)
class CronExpr:
    """A parsed expression: the allowed values of each field (weekday 0 = Sunday)."""

    source: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_star: bool  # day-of-month starts with `*`: with day_star or weekday_star the two AND, else OR
    weekday_star: bool
    wall_clock: bool  # minute and hour both fixed: follows local wall time across DST

    def day_matches(self, day: int, weekday: int) -> bool:
        """Debian's rule for a date (weekday 0 = Sunday)."""
        in_days = day in self.days
        in_weekdays = weekday in self.weekdays
        if self.day_star or self.weekday_star:
            return in_days and in_weekdays
        return in_days or in_weekdays

    def ever_fires(self) -> bool:
        """False for dates that never exist, like `0 0 31 2 *` (a restricted weekday always fires)."""
        if not self.weekday_star:
            return True
        longest = {2: 29, 4: 30, 6: 30, 9: 30, 11: 30}
        return any(day <= longest.get(month, 31) for month in self.months for day in self.days)

    def min_gap_minutes(self) -> int:
        """The shortest interval between two fire times, in minutes (within a day, real time)."""
        times = sorted(h * 60 + m for h in self.hours for m in self.minutes)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        gaps.append(times[0] + 1440 - times[-1])  # across midnight
        return min(gaps)


@cache
def parse_cron(text: str) -> CronExpr:
    """Parse a 5-field expression or an `@` macro; raises `CronError`."""
    expr = text.strip()
    if expr.startswith("@"):
        if expr not in MACROS:
            close = difflib.get_close_matches(expr.lower(), list(MACROS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(sorted(MACROS))})"
            raise CronError(f"unknown cron macro {expr!r}{hint}")
        expr = MACROS[expr]
    parts = expr.split()
    if len(parts) != 5:
        raise CronError(
            f"cron {text!r} has {len(parts)} fields; expected 5 (minute hour day-of-month month day-of-week)"
        )
    values = [_parse_field(part, field) for part, field in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(0 if d == 7 else d for d in values[4])
    return CronExpr(
        source=text,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        day_star=parts[2].startswith("*"),
        weekday_star=parts[4].startswith("*"),
        wall_clock=not parts[0].startswith("*") and not parts[1].startswith("*"),
    )


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(item, field, text))
    return frozenset(values)


def _parse_item(item: str, field: _Field, whole: str) -> range:
    def fail(reason: str) -> CronError:
        return CronError(f"{field.name} field {whole!r}: {reason}")

    if not item:
        raise fail("empty list item")
    if _UNSUPPORTED.search(item):
        raise fail("L, W, # and ? are not supported (Debian cron syntax)")
    base, _, step_text = item.partition("/")
    step = 1
    if "/" in item:
        if not step_text.isdigit() or int(step_text) == 0:
            raise fail(f"step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        return range(field.low, field.high + 1, step)
    low_text, dash, high_text = base.partition("-")
    low = _value(low_text, field, fail)
    if not dash:
        if "/" in item:
            raise fail(f"step needs a range or * before it, e.g. */{step} or {low}-{field.high}/{step}")
        return range(low, low + 1)
    high = _value(high_text, field, fail)
    if high < low:
        raise fail(f"range {base!r} runs backwards")
    return range(low, high + 1, step)


def _value(text: str, field: _Field, fail: Callable[[str], CronError]) -> int:
    lowered = text.lower()
    if lowered in field.names:
        return field.names[lowered]
    if not text.isdigit():
        hint = f" (names: {', '.join(field.names)})" if field.names else ""
        raise fail(f"{text!r} is not a number{hint}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise fail(f"{value} is out of range {field.low}-{field.high}")
    return value
