"""The names a path may carry: orchestration names, table ids and run ids, checked before any lookup
(so `..`, `/` or a percent-encoded separator never reach one)."""

from __future__ import annotations

import re

from orchrecon.access import NAME

TABLE_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")  # as SPEC: also what `tables touch` takes
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")


def is_name(text: str) -> bool:
    return NAME.fullmatch(text) is not None


def is_table(text: str) -> bool:
    return TABLE_ID.fullmatch(text) is not None


def is_run_id(text: str) -> bool:
    return RUN_ID.fullmatch(text) is not None


def shown(text: str, limit: int = 80) -> str:
    """`text` quoted for a message, cut short: a path may be long garbage. What looks like a token (one
    sent in the path by mistake) is not repeated: error bodies can end up in a CI job's public log."""
    from orchrecon.store import apitokens, tokens  # noqa: PLC0415 - `tables touch` checks ids without them

    if apitokens.PREFIX in text or tokens.PREFIX in text:
        return "(not shown: it looks like a token)"
    return repr(text if len(text) <= limit else text[:limit] + "...")
