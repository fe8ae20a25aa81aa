"""Orchestration tokens: one secret per orchestration, created on first use, replaced only by rotation."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchrecon.errors import writing

PREFIX = "orco_"


class TokenStore:
    def __init__(self, secrets_dir: Path) -> None:
        self._file = secrets_dir / "orchestration-tokens.json"

    def get(self, orchestration: str) -> str:
        """The orchestration's token, created (and stored, mode 0600) if it has none yet."""
        with self._locked() as tokens:
            if orchestration not in tokens:
                tokens[orchestration] = _new_token()
                self._save(tokens)
            return tokens[orchestration]

    def rotate(self, orchestration: str) -> None:
        """Replace the token; runs that start afterwards get the new one."""
        with self._locked() as tokens:
            tokens[orchestration] = _new_token()
            self._save(tokens)

    def all(self) -> dict[str, str]:
        with self._locked() as tokens:
            return dict(tokens)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        with writing("cannot open", self._file.with_suffix(".lock")):
            self._file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._file.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                tokens: dict[str, str] = json.loads(self._file.read_text(encoding="utf-8"))
            except FileNotFoundError:
                tokens = {}
            yield tokens
        finally:
            os.close(fd)

    def _save(self, tokens: dict[str, str]) -> None:
        temporary = self._file.with_suffix(".tmp")
        with writing("cannot write", self._file):  # the old file stays as it was
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(tokens, f)
                f.flush()
                os.fsync(f.fileno())
            temporary.replace(self._file)


def _new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)
