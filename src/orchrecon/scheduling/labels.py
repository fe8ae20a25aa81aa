"""How fire times read: the labels `plan` and `diff` both print, so the two always agree. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def utc_label(at: datetime) -> str:
    """`2027-03-26T05:00:00Z` for an aware UTC instant."""
    # isoformat is C and several times faster than strftime; plan renders tens of thousands of instants.
    return at.isoformat()[:19] + "Z"


def local_label(local: datetime) -> str:
    """`Fri 2027-03-26 06:00 +01:00` for an aware local time."""
    offset = local.utcoffset()
    assert offset is not None
    return f"{_WEEKDAYS[local.weekday()]} {local.isoformat()[:16].replace('T', ' ')} {_offset_label(offset)}"


@cache
def _offset_label(offset: timedelta) -> str:
    return offset_label(offset.total_seconds())


def offset_label(seconds: float) -> str:
    """`+02:00`, `-03:30` for an offset from UTC in seconds."""
    sign = "+" if seconds >= 0 else "-"
    minutes = int(abs(seconds)) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
