"""`orchrecon run` notifies through a real SMTP server (aiosmtpd) and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execution import builders
from tests.execution.builders import Workspace, task
from tests.notify import receivers, scenes
from tests.notify.receivers import Mailbox, Webhook


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with receivers.smtp_server() as box:
        yield box


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with receivers.webhook() as receiver:
        yield receiver


def run(ws: Workspace, *args: str, hook_url: str = "") -> builders.Done:
    return ws.finish(ws.start("run", "daily", *args, env=scenes.environ(hook_url)), timeout=60)


EVERYONE = [
    {"events": ["failed", "succeeded"], "email": "team@example.com"},
    {"events": ["failed"], "webhook": {"fromEnv": scenes.HOOK_ENV}},
]


def test_a_person_who_starts_a_run_alone_hears_that_it_failed_by_email(
    ws: Workspace, mailbox: Mailbox, hook: Webhook
) -> None:
    scenes.project(ws, mailbox.port)
    scenes.orchestration(ws, [task("load", exit=1)], EVERYONE)
    ws.commit()
    done = run(ws, "--as", "ana@example.com", hook_url=hook.url())
    assert done.code == 1, done.err
    assert [m["Subject"] for m in mailbox.to("ana@example.com")] == ["[orchrecon] daily failed"]
    assert mailbox.to("team@example.com") == []
    assert hook.received == []
    assert mailbox.logins == [("orchrecon", scenes.SMTP_PASSWORD)]  # read from its {fromEnv} when sent
    records = scenes.notifications_of(ws)
    assert [(r["type"], r["event"], r["channel"], r["recipient"]) for r in records] == [
        ("notification.sending", "failed", "email", "ana@example.com"),
        ("notification.sent", "failed", "email", "ana@example.com"),
    ]
    assert records[1]["attempts"] == 1
    assert records[1]["key"] == records[0]["key"] == f"{records[0]['run']}/failed/email/ana@example.com"
    assert "notified: failed to ana@example.com by email" in done.out


def test_a_person_is_not_told_of_each_success(ws: Workspace, mailbox: Mailbox, hook: Webhook) -> None:
    scenes.project(ws, mailbox.port)
    scenes.orchestration(ws, [task("load")], EVERYONE)
    ws.commit()
    assert run(ws, "--as", "ana@example.com", hook_url=hook.url()).code == 0
    assert mailbox.messages == []
    assert scenes.notifications_of(ws) == []


def test_a_run_nobody_started_tells_the_configured_recipients(ws: Workspace, mailbox: Mailbox, hook: Webhook) -> None:
    scenes.project(ws, mailbox.port)
    scenes.orchestration(ws, [task("load", exit=1)], EVERYONE)
    ws.commit()
    done = run(ws, hook_url=hook.url())  # no --as and no git user.email here: `by` is empty
    assert done.code == 1
    assert [m["Subject"] for m in mailbox.to("team@example.com")] == ["[orchrecon] daily failed"]
    assert [(p, b["event"]) for p, b in hook.received] == [("/hooks/T000/B000/secret-token", "failed")]
