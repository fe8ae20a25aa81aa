"""Durations as users write them: `30s`, `5m`, `1h30m`, `2d`."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
MAX_DURATION = timedelta(days=366)


def parse_duration(text: str) -> timedelta:
    """Parse `1h30m`-style text; raises ValueError naming the text when it is not one or exceeds 366d."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"invalid duration {text!r}: use units d, h, m, s in that order, e.g. 90s, 5m, 1h30m, 2d")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total > MAX_DURATION.total_seconds():
        raise ValueError(f"duration {text!r} is too long (at most 366d)")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The inverse of `parse_duration` for whole seconds: 5400 s -> `1h30m`."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, total = divmod(total, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
