"""How hard a delivery tries: a timeout per attempt, a number of attempts and the pauses between them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Policy:
    """5 s per attempt, 3 attempts, 1 s then 2 s between them: at most 18 s per delivery (`budget`).
    Tests pass a shorter one to the Notifier; there is deliberately no setting a user could change by accident."""

    timeout: float = 5.0
    attempts: int = 3
    backoff: tuple[float, ...] = (1.0, 2.0)

    @property
    def budget(self) -> float:
        """The longest a delivery can take, in seconds: every attempt timing out, with the pauses."""
        pauses = sum(self.backoff[i] if i < len(self.backoff) else self.backoff[-1] for i in range(self.attempts - 1))
        return self.attempts * self.timeout + pauses

    def pause(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (from 1)."""
        return self.backoff[min(attempt - 1, len(self.backoff) - 1)] if self.backoff else 0.0


@dataclass(frozen=True, kw_only=True)
class Outcome:
    sent: bool
    attempts: int
    error: str | None = None


class DeliveryError(Exception):
    """One attempt failed; the message is safe to record (no secret in it)."""


async def attempt(
    policy: Policy, once: Callable[[], Awaitable[None]], *, recipient: str, retry_timeouts: bool = True
) -> Outcome:
    """Call `once` up to `policy.attempts` times, each bounded by `policy.timeout`, until it succeeds;
    `recipient` (no secret in it) begins the error of an attempt that timed out. Without
    `retry_timeouts`, an attempt that timed out is the last: it may still be going on (an SMTP exchange
    in its thread), and another could deliver the same message twice."""
    error = "not attempted"
    for n in range(1, policy.attempts + 1):
        try:
            async with asyncio.timeout(policy.timeout):
                await once()
            return Outcome(sent=True, attempts=n)
        except DeliveryError as exc:
            error = str(exc)
        except TimeoutError:
            error = f"{recipient}: no answer within {policy.timeout:g}s"
            if not retry_timeouts:
                return Outcome(sent=False, attempts=n, error=f"{error}; not tried again, it may still arrive")
        if n < policy.attempts:
            await asyncio.sleep(policy.pause(n))
    return Outcome(sent=False, attempts=policy.attempts, error=error)
