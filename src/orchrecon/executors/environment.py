"""What a task is given (resolved env values, parameters as JSON) and what it must never show (secrets)."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from orchrecon.documents.model import EnvValue, FromEnv
from orchrecon.executors import MissingSecretError

REDACTED = "***"
# A value this short is not a credential and masking it would shred the log (think "1" or "true").
MIN_SECRET_LENGTH = 4


def resolve_env(values: Mapping[str, EnvValue], environ: Mapping[str, str]) -> dict[str, str]:
    """Literal values as they are, `FromEnv(var)` read from `environ`.

    Raises MissingSecretError("environment variable VAR is not set") naming the variable, never a value.
    """
    resolved: dict[str, str] = {}
    for name, value in values.items():
        if isinstance(value, FromEnv):
            if value.var not in environ:
                raise MissingSecretError(f"environment variable {value.var} is not set")
            resolved[name] = environ[value.var]
        else:
            resolved[name] = value
    return resolved


def secret_values(values: Mapping[str, EnvValue], environ: Mapping[str, str]) -> list[str]:
    """The resolved values of the `FromEnv` entries: masked in logs like the token."""
    return [environ[v.var] for v in values.values() if isinstance(v, FromEnv) and v.var in environ]


def _json_default(value: object) -> Any:
    # Parameters come from YAML and from callers of the API; whatever slipped through as a non-JSON type
    # should reach the task as text rather than crash the run.
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


def to_json(value: Any) -> str:
    """JSON text of parameters or a request body; non-JSON values (dates, tuples, mappings) are converted."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


class Redactor:
    """Replaces secrets with `***` in a byte stream cut into arbitrary chunks.

    `feed` returns what is safe to emit now. It holds back only the end of the data that could be the
    beginning of a secret completed by the next chunk (at most the longest secret minus one byte, and
    usually nothing: a line ending in a newline is emitted whole unless a secret begins with one), so a
    log grows as the task prints; `flush` returns the rest at the end of the stream. Empty and very short
    secrets are ignored.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        encoded = {s.encode() for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # Longest first: where one secret is the prefix of another, the longer one must win.
        self._secrets = sorted(encoded, key=len, reverse=True)
        self._pattern = re.compile(b"|".join(re.escape(s) for s in self._secrets)) if self._secrets else None
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        if self._pattern is None:
            return chunk
        data = self._pending + chunk
        # A match starting before `final` is complete whatever comes next: no secret can start there and
        # run past the end of `data`, so more data cannot change the leftmost-longest match.
        final = self._open_prefix(data)
        out: list[bytes] = []
        emitted = 0
        for match in self._pattern.finditer(data):
            if match.start() >= final:
                break
            out.append(data[emitted : match.start()])
            out.append(REDACTED.encode())
            emitted = match.end()
        keep_from = max(emitted, final)
        out.append(data[emitted:keep_from])
        self._pending = data[keep_from:]
        return b"".join(out)

    def _open_prefix(self, data: bytes) -> int:
        """Where the longest end of `data` that is a proper beginning of some secret starts (len: none)."""
        start = len(data)
        for secret in self._secrets:
            first = secret[:1]
            # Only the last len(secret) - 1 bytes can hold a beginning the next chunk completes.
            at = data.find(first, max(0, len(data) - len(secret) + 1), start)
            while at != -1:
                if secret.startswith(data[at:]):
                    start = at
                    break
                at = data.find(first, at + 1, start)
        return start

    def flush(self) -> bytes:
        data, self._pending = self._pending, b""
        if self._pattern is None:
            return data
        return self._pattern.sub(REDACTED.encode(), data)

    def text(self, value: str) -> str:
        """A whole string with its secrets replaced (no streaming state involved)."""
        if self._pattern is None:
            return value
        return self._pattern.sub(REDACTED.encode(), value.encode()).decode(errors="replace")
