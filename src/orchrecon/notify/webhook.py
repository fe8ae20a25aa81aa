"""POST a JSON body to a webhook; 2xx is success. Nothing recorded or raised ever holds the URL's path."""

from __future__ import annotations

from typing import Any

from orchrecon.notify.policy import DeliveryError, Outcome, Policy, attempt
from orchrecon.runs.notifications import webhook_origin


async def post(url: str, body: dict[str, Any], policy: Policy) -> Outcome:
    """Deliver `body` to `url` within the policy's attempts; the outcome's error names only its origin."""
    import httpx  # noqa: PLC0415 - 60 ms at start-up that most commands never need

    origin = webhook_origin(url)

    async def once() -> None:
        try:
            async with httpx.AsyncClient(timeout=policy.timeout, follow_redirects=False) as client:
                response = await client.post(url, json=body, headers={"User-Agent": "orchrecon"})
        except httpx.TimeoutException:
            raise DeliveryError(f"{origin}: no answer within {policy.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{origin}: {_scrub(exc, url, origin)}") from None
        except httpx.InvalidURL:  # not an HTTPError: a URL with a stray newline from a secrets file, say
            raise DeliveryError(f"{origin}: not a valid URL") from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"{origin}: HTTP {response.status_code}")

    return await attempt(policy, once, recipient=origin)


def _scrub(exc: Exception, url: str, origin: str) -> str:
    """The error's text (or its kind) with the URL cut to its origin."""
    text = str(exc) or type(exc).__name__
    text = text.replace(url, origin)
    rest = url[len(origin) :] if url.startswith(origin) else ""
    return text.replace(rest, "/…") if len(rest) > 1 else text
