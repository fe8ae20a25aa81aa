"""Changed keys of two mappings, shown as compact JSON, never showing a value that may be a credential."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from orchrecon.documents.model import EnvValue, FromEnv
from orchrecon.reports.diff.model import KeyChange

VALUE_WIDTH = 80  # characters of a shown value before it is cut

# Values under these document paths may be credentials written literally: shown as changed, never as text.
# A `{fromEnv: VAR}` anywhere is shown as its variable's name, which is no secret.
_HIDDEN = (("spec", "run", "env"), ("spec", "run", "http", "headers"), ("spec", "smtp", "username"))
_HIDDEN_FIELDS = (("spec", "smtp", "password"),)
HIDDEN_VALUE = "(literal value, not shown)"

_ABSENT = object()  # a key missing on one side


def key_changes(before: Any, after: Any, *, hidden: bool = False) -> Iterator[KeyChange]:
    """The keys of two mappings whose values differ, mappings compared key by key and anything else whole.
    With `hidden`, values at paths that may hold literal credentials are never shown."""
    yield from _walk(before, after, (), hidden)


def _walk(before: Any, after: Any, path: tuple[str, ...], hidden: bool) -> Iterator[KeyChange]:
    if before == after:
        return
    if _is_mapping(before, after) and not _is_from_env(before) and not _is_from_env(after):
        b = before if isinstance(before, Mapping) else {}
        a = after if isinstance(after, Mapping) else {}
        for key in [*b, *(k for k in a if k not in b)]:
            yield from _walk(b.get(key, _ABSENT), a.get(key, _ABSENT), (*path, str(key)), hidden)
        return
    secret = hidden and any(path[: len(p)] == p and len(path) > len(p) for p in _HIDDEN)
    secret = secret or (hidden and path in _HIDDEN_FIELDS)
    yield KeyChange(key=".".join(path), before=_shown(before, secret), after=_shown(after, secret))


def _is_mapping(before: Any, after: Any) -> bool:
    return (isinstance(before, Mapping) or before is _ABSENT) and (isinstance(after, Mapping) or after is _ABSENT)


def _is_from_env(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"fromEnv"}


def _shown(value: Any, secret: bool) -> str | None:
    if value is _ABSENT:
        return None
    if _is_from_env(value):
        return f"fromEnv {value['fromEnv']}"
    if secret:
        return HIDDEN_VALUE
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def webhook_shown(url: EnvValue) -> str:
    """A webhook's scheme and host only: the path of one (Slack's, say) is often its secret."""
    if isinstance(url, FromEnv):
        return f"fromEnv {url.var}"
    parts = urllib.parse.urlsplit(url)
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or ''}{rest}"
