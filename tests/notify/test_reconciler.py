"""The reconciler notifies the configured recipients of the runs it starts, and never twice: not after
being killed, not by the reconciler that takes over."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchrecon.app import open_app
from orchrecon.gitsource.remote import RemoteSource
from orchrecon.notify import Policy
from orchrecon.notify.claims import INTERRUPTED
from orchrecon.reconcile.reconciler import Reconciler
from tests.builders import clone_with_remote, git, write
from tests.clocks import FakeClock
from tests.execution.builders import Workspace, task, wait_until
from tests.notify import receivers, scenes
from tests.notify.receivers import Mailbox, Webhook

TABLE = "in.c-ext.ready"


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
        killed = ws.finish(first)
        assert "notification sent" in killed.out
        assert "secret-token" not in killed.out + killed.err
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


NIGHTLY = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: nightly}
spec:
  phases:
    - name: main
      tasks: [{name: fail, config: ex/fail}]
  schedules: [{cron: "0 2 * * *", timezone: Europe/Prague}]
"""
FAIL = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {component: ex, name: fail}
spec:
  run: {command: [python, -c, "raise SystemExit(3)"]}
"""


def test_a_scheduled_run_tells_the_project_s_default_recipients(tmp_path: Path, mailbox: Mailbox) -> None:
    clone = clone_with_remote(tmp_path)
    write(clone, "orchestrations/nightly.yaml", NIGHTLY)
    write(clone, "configurations/ex/fail.yaml", FAIL)
    ws = Workspace(root=clone, state=tmp_path / "state")
    scenes.project(ws, mailbox.port, [{"events": ["failed"], "email": "team@example.com"}])
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "a nightly orchestration that fails, and who hears of it")
    git(clone, "push", "-q", "origin", "main")
    clock = FakeClock(datetime(2026, 3, 2, 0, 50, tzinfo=UTC))
    for _ in range(2):  # arm the schedule, then catch up the slot missed while it was down
        app = open_app(None, ws.state, environ=scenes.environ(), clock=clock)
        reconciler = Reconciler(
            app,
            RemoteSource(str(tmp_path / "remote.git"), "main", app.state.source, {}),
            interval=timedelta(hours=1),
            log=lambda *_: None,
        )
        reconciler.acquire()
        asyncio.run(reconciler.serve(once=True))
        reconciler.release()
        clock.advance(timedelta(days=1))
    (message,) = mailbox.messages
    assert (message["To"], message["Subject"]) == ("team@example.com", "[orchrecon] nightly failed")
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode().replace("\r\n", "\n")  # SMTP lines end in CRLF
    assert "Started how:   scheduled" in body
    assert "  main/fail: exited with code 3\n" in body
    assert [(r["type"], r["trigger"]) for r in ws.ledger() if r["type"] == "run.requested"] == [
        ("run.requested", "schedule")
    ]
