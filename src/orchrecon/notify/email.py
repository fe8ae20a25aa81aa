"""Send a plain-text email with smtplib, in a daemon thread so a hung server never holds up the loop or exit."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
import threading
from collections.abc import Callable
from email.message import EmailMessage

from orchrecon.documents.model import Smtp
from orchrecon.notify.policy import DeliveryError, Outcome, Policy, attempt


async def send(
    smtp: Smtp, *, to: str, subject: str, body: str, username: str | None, password: str | None, policy: Policy
) -> Outcome:
    """Deliver one message through `smtp` (STARTTLS when it says so; a login with the credentials given)."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    secrets = [s for s in (password,) if s]

    def deliver() -> None:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=policy.timeout) as client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if username and password:
                client.login(username, password)
            client.send_message(message)

    async def once() -> None:
        try:
            await _in_daemon_thread(deliver)
        except (OSError, smtplib.SMTPException) as exc:
            text = str(exc) or type(exc).__name__
            for secret in secrets:
                text = text.replace(secret, "***")
            raise DeliveryError(f"{server}: {text}") from None

    server = f"smtp {smtp.host}:{smtp.port}"
    return await attempt(policy, once, recipient=server, retry_timeouts=False)


async def _in_daemon_thread(call: Callable[[], None]) -> None:
    """`call()` in a thread of its own that never keeps the process alive (asyncio's default executor
    would: it is joined when the loop closes)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle(exc: BaseException | None) -> None:
        if not done.done():
            if exc is None:
                done.set_result(None)
            else:
                done.set_exception(exc)

    def work() -> None:
        outcome: BaseException | None = None
        try:
            call()
        except BaseException as exc:  # handed to the waiting coroutine, whatever it is
            outcome = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=work, name="orchrecon-smtp", daemon=True).start()
    await done
