"""Orchestration tokens: one secret per orchestration, created on first use, replaced only by rotation."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchrecon.store import secretfiles

PREFIX = "orco_"


class TokenStore:
    def __init__(self, secrets_dir: Path) -> None:
        self._file = secrets_dir / "orchestration-tokens.json"
        self._snapshot = secretfiles.Snapshot(self._file)

    @property
    def file(self) -> Path:
        return self._file

    def get(self, orchestration: str) -> str:
        """The orchestration's token, created (and stored, mode 0600) if it has none yet."""
        with self._locked() as tokens:
            if orchestration not in tokens:
                tokens[orchestration] = _new_token()
                secretfiles.save(self._file, tokens)
            return tokens[orchestration]

    def rotate(self, orchestration: str) -> None:
        """Replace the token; runs that start afterwards get the new one."""
        with self._locked() as tokens:
            tokens[orchestration] = _new_token()
            secretfiles.save(self._file, tokens)

    def all(self) -> dict[str, str]:
        with self._locked() as tokens:
            return dict(tokens)

    def owner(self, token: str) -> str | None:
        """The orchestration whose token `token` is, or None. Compares in constant time, against a copy of
        the file read again only when it changed (this runs once per API request)."""
        given = token.encode("utf-8", "surrogatepass")
        found = None
        for name, stored in _checked(self._snapshot.get(), self._file).items():
            if hmac.compare_digest(given, stored.encode()):  # every one compared: the time says nothing
                found = name
        return found

    @contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        with secretfiles.locked(self._file):
            yield _checked(secretfiles.read(self._file), self._file)


def _checked(data: Any, file: Path) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise secretfiles.damaged(file, "not an object of orchestration names and tokens")
    return data


def _new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)
