"""Who is asking: the bearer token, resolved by the token store in one worker thread (its files are
read and its last-use marks written there, never on the event loop), and what its scopes allow.

A token just resolved is known on the loop itself until the token files change or KNOWN_SECONDS pass:
under load, the hop to the worker thread and back put every request twice in the loop's queue."""

from __future__ import annotations

import asyncio
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

from starlette.requests import Request

from orchrecon.access import Action, Principal, allows
from orchrecon.api.errors import ApiError
from orchrecon.api.port import Tokens
from orchrecon.errors import StorageError

MAX_SECRET = 512  # longer is no token of ours; not worth hashing
KNOWN_SECONDS = 30.0  # below the store's once-a-minute last-use mark, so each use a minute is still seen

WORDS = {
    Action.READ: "read runs of",
    Action.TRIGGER: "start, retry or cancel runs of",
    Action.TABLES: "report table updates",
    Action.ADMIN: "administer tokens",
}


class Authenticator:
    def __init__(self, tokens: Tokens) -> None:
        self._tokens = tokens
        # One thread: the store is called from it alone, so it needs no locking of its own.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orchrecon-tokens")
        # sha256 of a secret -> its principal and when it was resolved; valid tokens only, so small.
        self._known: dict[bytes, tuple[Principal, float]] = {}
        self._stamp: tuple[object, ...] | None = None

    @property
    def tokens(self) -> Tokens:
        return self._tokens

    @property
    def pool(self) -> ThreadPoolExecutor:
        return self._pool

    async def principal(self, request: Request) -> Principal:
        """The token's principal; ApiError 401 without a valid one."""
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        secret = secret.strip()
        found = None
        if scheme.lower() == "bearer" and secret and len(secret) <= MAX_SECRET:
            try:
                found = await self._resolve(secret)
            except StorageError as exc:  # a damaged token file: the service is not there, the client did no wrong
                raise ApiError(503, str(exc)) from None
        if found is None:
            raise ApiError(
                401, "a valid token is required: Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
            )
        return found

    async def _resolve(self, secret: str) -> Principal | None:
        stamp = self._tokens.stamp()
        if stamp != self._stamp:  # a token was created, revoked or rotated: resolve each one again
            self._known.clear()
            self._stamp = stamp
        key = hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()
        known = self._known.get(key)
        now = time.monotonic()
        if known is not None and now - known[1] < KNOWN_SECONDS:
            return known[0]
        found = await asyncio.get_running_loop().run_in_executor(self._pool, self._tokens.authenticate, secret)
        if found is not None and self._tokens.stamp() == stamp:  # still what the store answered from
            self._known[key] = (found, now)
        return found


def require(principal: Principal, action: Action, orchestration: str | None = None) -> None:
    """ApiError 403 unless the principal's scopes allow the action (on the orchestration)."""
    if not allows(principal, action, orchestration):
        what = WORDS[action] + (
            f" {orchestration!r}" if orchestration and action in (Action.READ, Action.TRIGGER) else ""
        )
        if action in (Action.READ, Action.TRIGGER) and orchestration is None:
            what += " any orchestration"
        raise ApiError(403, f"token {principal.name!r} may not {what}")


def readable(principal: Principal) -> frozenset[str] | None:
    """The orchestrations whose runs the principal may read (None: every one)."""
    if principal.orchestrations is None or allows(principal, Action.ADMIN):
        return None
    return frozenset(n for n in principal.orchestrations if allows(principal, Action.READ, n))


def may_scrape(principal: Principal) -> bool:
    """/metrics shows every orchestration: runs:read over all of them, or admin."""
    return allows(principal, Action.ADMIN) or ("runs:read" in principal.scopes and principal.orchestrations is None)
