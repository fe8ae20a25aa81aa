"""One delivery against real recipients on 127.0.0.1, with a short policy: attempts, timeouts, what an error says."""

from __future__ import annotations

import asyncio
import time

import pytest

from orchrecon.documents.model import Smtp
from orchrecon.notify import email, webhook
from orchrecon.notify.policy import Outcome, Policy
from tests.notify import receivers

QUICK = Policy(timeout=0.3, attempts=3, backoff=(0.05, 0.1))


def test_the_budget_is_every_attempt_timing_out_plus_the_pauses() -> None:
    assert Policy().budget == 3 * 5 + 1 + 2
    assert QUICK.budget == pytest.approx(3 * 0.3 + 0.05 + 0.1)
    assert Policy(timeout=1, attempts=4, backoff=(0.5,)).budget == 4 + 3 * 0.5


def test_a_webhook_that_never_answers_fails_after_3_attempts_within_the_budget() -> None:
    with receivers.webhook(hang=True) as hook:
        started = time.monotonic()
        outcome = asyncio.run(webhook.post(hook.url(), {"event": "failed"}, QUICK))
        took = time.monotonic() - started
        assert len(hook.received) == 3
    assert (outcome.sent, outcome.attempts) == (False, 3)
    assert outcome.error == f"{receivers.origin(hook.url())}: no answer within 0.3s"
    assert QUICK.budget - 0.2 < took < QUICK.budget + 1


def test_a_webhook_that_answers_500_then_200_is_sent_on_the_second_attempt() -> None:
    # The receiver changes its answer itself: a test flipping it could be late under load.
    with receivers.webhook(500, then=204) as hook:
        outcome = asyncio.run(webhook.post(hook.url(), {"n": 1}, QUICK))
        assert len(hook.received) == 2
    assert outcome == Outcome(sent=True, attempts=2)


def test_connection_refused_names_the_origin_only() -> None:
    url = receivers.refused_url()
    outcome = asyncio.run(webhook.post(url, {}, QUICK))
    assert (outcome.sent, outcome.attempts) == (False, 3)
    assert outcome.error is not None
    assert outcome.error.startswith(receivers.origin(url) + ": ")
    assert "secret-token" not in outcome.error


def test_an_smtp_server_that_is_not_there_fails_without_the_password() -> None:
    port = int(receivers.refused_url().split(":")[2].split("/")[0])
    smtp = Smtp(host="127.0.0.1", port=port, sender="o@example.com", starttls=False, username=None, password=None)
    outcome = asyncio.run(
        email.send(smtp, to="a@example.com", subject="s", body="b", username="u", password="pw-123", policy=QUICK)
    )
    assert (outcome.sent, outcome.attempts) == (False, 3)
    assert outcome.error is not None
    assert outcome.error.startswith(f"smtp 127.0.0.1:{port}: ")


def test_an_email_reaches_the_smtp_server_with_the_credentials() -> None:
    with receivers.smtp_server() as box:
        smtp = Smtp(
            host="127.0.0.1", port=box.port, sender="o@example.com", starttls=False, username=None, password=None
        )
        outcome = asyncio.run(
            email.send(
                smtp,
                to="a@example.com",
                subject="[orchrecon] x failed",
                body="b\n",
                username="u",
                password="p",
                policy=QUICK,
            )
        )
    assert outcome.sent
    (message,) = box.messages
    assert (message["From"], message["To"], message["Subject"]) == (
        "o@example.com",
        "a@example.com",
        "[orchrecon] x failed",
    )
    assert box.logins == [("u", "p")]
