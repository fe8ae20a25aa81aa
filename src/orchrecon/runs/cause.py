"""What started a run, in words: the `cause` a `run.requested` record carries beyond `trigger` and `by`. Pure.

The reconciler records, for a scheduled run, its schedule (`schedule`, `cron`, `timezone`), the `slot` and
whether it was a missed slot caught up (`caughtUp`); for a triggered run, each of the trigger's `tables`
with its update time; the API records the `token` name of the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def describe(cause: Mapping[str, Any] | None) -> str | None:
    """One line about the schedule and slot, the trigger's tables or the token; None without a cause."""
    if not cause:
        return None
    parts = []
    if "slot" in cause:
        caught = "the missed slot" if cause.get("caughtUp") else "the slot"
        zone = cause.get("timezone") or "UTC"
        parts.append(f"schedule {cause.get('cron', '?')!r} ({zone}), {caught} {_slot(cause['slot'], zone)}")
    tables = cause.get("tables")
    if isinstance(tables, Mapping) and tables:
        updated = ", ".join(f"{t} updated {at or 'never'}" for t, at in tables.items())
        parts.append(f"trigger: {updated}")
    if cause.get("token"):
        parts.append(f"API token {cause['token']}")
    return "; ".join(parts) or None


def _slot(slot: str, zone: str) -> str:
    """`2026-12-02T05:00:00Z (06:00 Europe/Prague)`: the slot in UTC and on the schedule's wall clock."""
    try:
        local = datetime.fromisoformat(slot.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError):
        return slot
    return slot if zone == "UTC" else f"{slot} ({local.strftime('%Y-%m-%d %H:%M')} local)"
