"""The reconciler notifies the configured recipients of the runs it starts, and never twice: not after
being killed, not by the reconciler that takes over."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchrecon.notify import Policy
from orchrecon.notify.claims import INTERRUPTED
from tests.execution import builders
from tests.execution.builders import Workspace, task, wait_until
from tests.notify import receivers, scenes
from tests.notify.receivers import Mailbox, Webhook

TABLE = "in.c-ext.ready"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with receivers.smtp_server() as box:
        yield box


def triggered(ws: Workspace, mailbox: Mailbox, *, gate: str | None = None) -> None:
    scenes.project(ws, mailbox.port, [{"events": ["failed"], "email": "team@example.com"}])
    notifications = [{"events": ["failed", "succeeded"], "webhook": {"fromEnv": scenes.HOOK_ENV}}]
    load = task("load", gate=gate) if gate else task("load")
    scenes.orchestration(ws, [load], notifications, trigger=[TABLE])
    ws.commit()


def reconciler(ws: Workspace, hook: Webhook, *args: str) -> subprocess.Popen[str]:
    process = ws.start("reconcile", *args, env=scenes.environ(hook.url()))
    if "--once" not in args:
        wait_until(lambda: any(r["type"] == "trigger.armed" for r in ws.ledger()), 20, what="the trigger armed")
    return process


def touch(ws: Workspace) -> None:
    assert ws.orchrecon("tables", "touch", TABLE).code == 0


def kinds(ws: Workspace) -> list[tuple[str, str]]:
    return [(r["type"], r["event"]) for r in scenes.notifications_of(ws)]


def test_a_triggered_run_tells_the_configured_recipients_and_a_restart_sends_nothing_twice(
    ws: Workspace, mailbox: Mailbox
) -> None:
    with receivers.webhook() as hook:
        triggered(ws, mailbox)
        first = reconciler(ws, hook)
        touch(ws)
        wait_until(lambda: ("notification.sent", "succeeded") in kinds(ws), 20, what="the success notified")
        first.send_signal(signal.SIGKILL)
        ws.finish(first)
        assert [b["event"] for b in hook.bodies()] == ["succeeded"]
        assert mailbox.messages == []  # the project's defaults give way to the orchestration's
        before = scenes.notifications_of(ws)
        again = ws.finish(reconciler(ws, hook, "--once"), timeout=60)
        assert again.code == 0, again.err
        assert len(hook.received) == 1
        assert scenes.notifications_of(ws) == before
    (body,) = hook.bodies()
    assert (body["trigger"], body["by"], body["status"]) == ("trigger", None, "success")
    assert body["text"] == f"orchrecon: daily succeeded (run {body['run']}, triggered by table updates)"
    assert "secret-token" not in again.out + again.err
    assert scenes.secrets_absent(ws.state, "secret-token", scenes.SMTP_PASSWORD) == []


def test_a_reconciler_killed_while_sending_records_it_failed_and_never_sends_it_again(
    ws: Workspace, mailbox: Mailbox
) -> None:
    with receivers.webhook(hang=True) as hook:
        triggered(ws, mailbox)
        first = reconciler(ws, hook)
        touch(ws)
        wait_until(lambda: hook.received, 20, what="the webhook called")
        first.send_signal(signal.SIGKILL)
        ws.finish(first)
        claimed = next(r for r in scenes.notifications_of(ws) if r["type"] == "notification.sending")
        restarted = time.monotonic()
        again = ws.finish(reconciler(ws, hook, "--once"), timeout=60)
        assert again.code == 0, again.err
        assert time.monotonic() - restarted < Policy().budget + 6  # it waits out a live sender's budget, no more
        assert len(hook.received) == 1
    records = scenes.notifications_of(ws)
    assert [(r["type"], r["key"]) for r in records] == [
        ("notification.sending", claimed["key"]),
        ("notification.failed", claimed["key"]),
    ]
    assert records[1]["error"] == INTERRUPTED
    assert records[1]["recipient"] == receivers.origin(hook.url())


def test_a_run_whose_reconciler_died_is_notified_once_by_the_next_one(ws: Workspace, mailbox: Mailbox) -> None:
    with receivers.webhook() as hook:
        triggered(ws, mailbox, gate="never")
        first = reconciler(ws, hook)
        touch(ws)
        wait_until(lambda: any(r["type"] == "task.started" for r in ws.ledger()), 20, what="the task started")
        first.send_signal(signal.SIGKILL)
        ws.finish(first)
        outputs = []
        for _ in range(2):  # the first settles it; the second finds nothing left to send
            done = ws.finish(reconciler(ws, hook, "--once"), timeout=60)
            assert done.code == 0, done.err
            outputs.append(done.out)
        assert [(b["event"], b["status"]) for b in hook.bodies()] == [("failed", "terminated")]
    assert kinds(ws) == [("notification.sending", "failed"), ("notification.sent", "failed")]
    assert "notification sent" in outputs[0]
    assert "notification" not in outputs[1]
