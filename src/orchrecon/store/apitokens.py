"""API tokens (`tokens create|list|revoke`): named, scoped bearer tokens, of which only a salted hash is kept.

`secrets/api-tokens.json` (mode 0600, in the 0700 `secrets/`) holds per token its name, scopes, the
orchestrations those are limited to, the email of the person it acts for, when it was created and last used,
a random salt and HMAC-SHA256(salt, secret). The secret itself is shown once, by `create`, and kept nowhere.

Why a fast keyed hash and not a slow password KDF: a secret is 32 random bytes (256 bits), so no guessing
attack needs slowing down; what a slow KDF would slow is every API request, which must hash the presented
secret against each stored token. The salt makes equal secrets hash differently and precomputation useless.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from orchrecon.access import NAME, NAME_HINT, SCOPES, Principal, grant_problem, orchestration_principal
from orchrecon.clock import Clock, format_time, parse_time
from orchrecon.documents.checks import EMAIL
from orchrecon.errors import NotFoundError, OrchreconError, UsageError
from orchrecon.store import secretfiles
from orchrecon.store.tokens import PREFIX as ORCHESTRATION_PREFIX
from orchrecon.store.tokens import TokenStore

PREFIX = "orc_"  # what secret scanners look for; orchestration tokens start with "orco_"
VERSION = 1
LONGEST = 256  # characters: no secret is longer, so a longer bearer string is refused unhashed
USE_RECORDED_EVERY = 60.0  # seconds: the last-use time is written at most this often per token


@dataclass(frozen=True, kw_only=True)
class ApiToken:
    """A token as `tokens list` shows it: never its secret or hash."""

    name: str
    scopes: tuple[str, ...]
    orchestrations: tuple[str, ...]  # empty: not limited
    email: str | None
    created: str  # RFC 3339 UTC, like ledger times
    last_used: str | None

    def principal(self) -> Principal:
        return Principal(
            name=self.name,
            scopes=frozenset(self.scopes),
            orchestrations=frozenset(self.orchestrations) or None,
            email=self.email,
        )


@dataclass(frozen=True, kw_only=True)
class _Stored:
    token: ApiToken
    salt: bytes
    digest: bytes


class ApiTokenStore:
    """The API tokens of one state directory; also the one place a bearer string is authenticated, API
    token or orchestration token. Building it reads nothing."""

    def __init__(self, secrets_dir: Path, clock: Clock) -> None:
        self._file = secrets_dir / "api-tokens.json"
        self._clock = clock
        self._snapshot = secretfiles.Snapshot(self._file)
        self._orchestration_tokens = TokenStore(secrets_dir)
        self._recorded: dict[str, float] = {}  # token name -> monotonic time its last use was written

    @property
    def file(self) -> Path:
        return self._file

    def stamp(self) -> tuple[object, ...]:
        """Changes whenever a token file is written (create, revoke, rotate, a last use): whoever keeps
        what `authenticate` answered may keep it while the stamp stays the same. Two stats, no read."""
        return tuple(_file_stamp(f) for f in (self._file, self._orchestration_tokens.file))

    def create(
        self, name: str, *, scopes: Sequence[str], orchestrations: Sequence[str] = (), email: str | None = None
    ) -> str:
        """Store a new token and return its secret ("orc_" + 43 URL-safe characters), the only time it is known.

        Raises UsageError for a bad or taken name, a bad scope, limit or email; StorageError when the file
        cannot be read or written (nothing is changed then)."""
        if not NAME.fullmatch(name):
            raise UsageError(f"{name!r} is not a token name ({NAME_HINT})")
        problem = grant_problem(scopes, orchestrations)
        if problem:
            raise UsageError(problem)
        if email is not None and not EMAIL.fullmatch(email):
            raise UsageError(f"--email {email!r} is not an email address")
        secret = PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        token = ApiToken(
            name=name,
            scopes=tuple(s for s in SCOPES if s in scopes),
            orchestrations=tuple(sorted(set(orchestrations))),
            email=email,
            created=format_time(self._clock.now()),
            last_used=None,
        )
        with secretfiles.locked(self._file):
            stored = self._read()
            if name in stored:
                raise UsageError(f"a token named {name!r} exists (orchrecon tokens revoke {name} removes it)")
            stored[name] = _Stored(token=token, salt=salt, digest=_digest(salt, secret))
            self._save(stored)
        return secret

    def list(self) -> list[ApiToken]:
        """Every API token, by name."""
        return [s.token for _, s in sorted(self._current().items())]

    def revoke(self, name: str) -> None:
        """Remove token `name`: it authenticates no more, here at once, in other processes at their next request.

        Raises NotFoundError for an unknown name; UsageError for an orchestration's token, which only
        rotation replaces."""
        with secretfiles.locked(self._file):
            stored = self._read()
            if name not in stored:
                if name in self._orchestration_tokens.names():
                    raise not_revocable(name)
                raise NotFoundError(f"no token {name!r} (orchrecon tokens list shows them)")
            del stored[name]
            self._save(stored)

    def authenticate(self, secret: str) -> Principal | None:
        """Who `secret` (a bearer string) belongs to: an API token's principal, an orchestration token's
        (`orchestration_principal`), or None. Constant-time comparisons against every stored token; the
        files are read again only when they changed. Raises StorageError when a file is damaged."""
        if len(secret) > LONGEST:
            return None
        if secret.startswith(ORCHESTRATION_PREFIX):
            owner = self._orchestration_tokens.owner(secret)
            return None if owner is None else orchestration_principal(owner)
        if not secret.startswith(PREFIX):
            return None
        given = secret.encode("utf-8", "surrogatepass")
        found = None
        for stored in self._current().values():
            if hmac.compare_digest(_digest(stored.salt, given), stored.digest):  # all compared: time says nothing
                found = stored.token
        if found is None:
            return None
        self._note_use(found)
        return found.principal()

    def _note_use(self, token: ApiToken) -> None:
        now, mono = self._clock.now(), self._clock.monotonic()
        recorded = self._recorded.get(token.name)
        if recorded is not None and mono - recorded < USE_RECORDED_EVERY:
            return
        self._recorded[token.name] = mono
        if token.last_used and (now - parse_time(token.last_used)).total_seconds() < USE_RECORDED_EVERY:
            return
        try:
            with secretfiles.locked(self._file):
                stored = self._read()
                if token.name in stored:  # revoked meanwhile: nothing to record
                    old = stored[token.name]
                    new = replace(old.token, last_used=format_time(now))
                    stored[token.name] = _Stored(token=new, salt=old.salt, digest=old.digest)
                    self._save(stored)
        except OrchreconError:
            pass  # the token is valid: a last-use time that cannot be written refuses no request

    def _current(self) -> dict[str, _Stored]:
        return _parse(self._snapshot.get(), self._file)

    def _read(self) -> dict[str, _Stored]:
        return _parse(secretfiles.read(self._file), self._file)

    def _save(self, stored: dict[str, _Stored]) -> None:
        secretfiles.save(self._file, {"version": VERSION, "tokens": [_entry(s) for _, s in sorted(stored.items())]})
        self._snapshot.forget()


def not_revocable(orchestration: str) -> UsageError:
    """The refusal to revoke an orchestration's token."""
    return UsageError(
        f"{orchestration!r} is an orchestration, whose token cannot be revoked: "
        f"use orchrecon tokens rotate {orchestration} to replace it"
    )


def _digest(salt: bytes, secret: str | bytes) -> bytes:
    message = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(salt, message, hashlib.sha256).digest()


def _entry(stored: _Stored) -> dict[str, Any]:
    t = stored.token
    return {
        "name": t.name,
        "scopes": list(t.scopes),
        "orchestrations": list(t.orchestrations),
        "email": t.email,
        "created": t.created,
        "lastUsed": t.last_used,
        "salt": stored.salt.hex(),
        "sha256": stored.digest.hex(),  # HMAC-SHA256 keyed with the salt
    }


def _parse(data: Any, file: Path) -> dict[str, _Stored]:
    """The tokens in the file's content; a damaged file is refused whole (never rewritten without the
    tokens it could not read)."""
    if data is None:
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("tokens"), list):
        raise secretfiles.damaged(file, f'not a version {VERSION} token file (an object with "version" and "tokens")')
    found: dict[str, _Stored] = {}
    for i, entry in enumerate(data["tokens"], 1):
        stored = _stored(entry)
        if stored is None:
            raise secretfiles.damaged(file, f"token {i} is not a valid entry")
        found[stored.token.name] = stored
    return found


def _stored(entry: Any) -> _Stored | None:
    if not isinstance(entry, dict):
        return None
    text = {"name", "created", "salt", "sha256"}
    lists = {"scopes", "orchestrations"}
    if not all(isinstance(entry.get(k), str) for k in text):
        return None
    if not all(isinstance(entry.get(k), list) and all(isinstance(v, str) for v in entry[k]) for k in lists):
        return None
    if not all(entry.get(k) is None or isinstance(entry[k], str) for k in ("email", "lastUsed")):
        return None
    try:
        salt, digest = bytes.fromhex(entry["salt"]), bytes.fromhex(entry["sha256"])
        for time in (entry["created"], entry.get("lastUsed")):
            if time is not None:
                parse_time(time)
    except ValueError:
        return None
    token = ApiToken(
        name=entry["name"],
        scopes=tuple(entry["scopes"]),
        orchestrations=tuple(entry["orchestrations"]),
        email=entry.get("email"),
        created=entry["created"],
        last_used=entry.get("lastUsed"),
    )
    return _Stored(token=token, salt=salt, digest=digest)


def _file_stamp(file: Path) -> tuple[int, int, int] | None:
    try:
        found = file.stat()
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)
