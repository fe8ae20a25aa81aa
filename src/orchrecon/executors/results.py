"""The one-line failures both executors report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchrecon.documents.durations import format_duration
from orchrecon.executors import Outcome, TaskResult

ERROR_EXCERPT_CHARS = 200


def describe_duration(value: timedelta) -> str:
    """`1h30m` for whole seconds as users write them; `0.25s` for the sub-second limits tests use."""
    seconds = value.total_seconds()
    if seconds == int(seconds):
        return format_duration(value)
    return f"{seconds:g}s"


def excerpt(text: str, limit: int = ERROR_EXCERPT_CHARS) -> str:
    """`text` on one line with runs of whitespace collapsed, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def failure(error: str, *, exit_code: int | None = None, **details: Any) -> TaskResult:
    return TaskResult(outcome=Outcome.ERROR, exit_code=exit_code, error=error, details=details)


def timed_out(limit: timedelta, **details: Any) -> TaskResult:
    return failure(f"timed out after {describe_duration(limit)}", **details)
