"""Runs as JSON: what `show --format json` and `runs --format json` print, and the API returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchrecon.clock import parse_time
from orchrecon.runs.state import RunView
from orchrecon.store.runstore import RunSummary


def duration_ms(started: str | None, finished: str | None) -> int | None:
    """Milliseconds between two ledger times; None unless both are known."""
    if not started or not finished:
        return None
    return round((parse_time(finished) - parse_time(started)).total_seconds() * 1000)


def run_detail(view: RunView, request: Mapping[str, Any] | None) -> dict[str, Any]:
    """The run with what started it (`cause` of its `run.requested` record) and every step's duration."""
    data = view.to_json()
    data["cause"] = (request or {}).get("cause")
    data["durationMs"] = duration_ms(view.started_at, view.finished_at)
    for phase in data["phases"]:
        phase["durationMs"] = duration_ms(phase["startedAt"], phase["finishedAt"])
        for task in phase["tasks"]:
            task["durationMs"] = duration_ms(task["startedAt"], task["finishedAt"])
    return data


def summary_json(s: RunSummary) -> dict[str, object]:
    """One row of a run listing."""
    return {
        "id": s.id,
        "orchestration": s.orchestration,
        "status": s.status.value,
        "trigger": s.trigger,
        "requestedAt": s.requested_at,
        "startedAt": s.started_at,
        "finishedAt": s.finished_at,
        "durationMs": duration_ms(s.started_at, s.finished_at),
    }
