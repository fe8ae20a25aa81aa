"""Waiting for something another process or session does, with a deadline instead of a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

DEADLINE = 15.0


def eventually(condition: Callable[[], bool], what: str, *, within: float = DEADLINE) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within} s: {what}")
        time.sleep(0.01)
