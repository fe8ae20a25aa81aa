"""`orchrecon run` notifies through a real SMTP server (aiosmtpd) and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import time
from typing import Any

from orchrecon.clock import parse_time
from orchrecon.notify import Policy
from tests.execution import builders
from tests.execution.builders import Workspace, task
from tests.notify import receivers, scenes
from tests.notify.receivers import Mailbox, Webhook


def run(ws: Workspace, *args: str, hook_url: str = "") -> builders.Done:
    return ws.finish(ws.start("run", "daily", *args, env=scenes.environ(hook_url)), timeout=60)


EVERYONE: list[dict[str, Any]] = [
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
    assert mailbox.logins == [("orchrecon", scenes.SMTP_PASSWORD)]
    sent = {r["channel"]: r["recipient"] for r in scenes.notifications_of(ws) if r["type"] == "notification.sent"}
    assert sent == {"email": "team@example.com", "webhook": receivers.origin(hook.url())}
    # The secrets never reach the ledger, the index, status files, reports, logs or the output.
    assert scenes.secrets_absent(ws.state, "secret-token", scenes.SMTP_PASSWORD) == []
    assert "secret-token" not in done.out + done.err
    assert scenes.SMTP_PASSWORD not in done.out + done.err


def set_exit(ws: Workspace, code: int) -> None:
    ws.configure("ex/load", parameters={"exit": code})
    ws.commit()


def test_recovered_is_sent_after_a_failure_and_not_after_a_success(ws: Workspace, hook: Webhook) -> None:
    scenes.project(ws, None)
    scenes.orchestration(ws, [task("load")], [{"events": ["recovered"], "webhook": hook.url()}])
    ws.commit()
    outcomes, last = [], 0
    for code in (0, 1, 1, 0, 0):  # success, two failures, the recovery, a plain success
        if code != last:
            set_exit(ws, code)
            last = code
        outcomes.append(run(ws).code)
    assert outcomes == [0, 1, 1, 0, 0]
    requested = ws.requested()
    assert [(b["event"], b["run"], b["status"]) for b in hook.bodies()] == [("recovered", requested[3], "success")]
    (body,) = hook.bodies()
    assert body["text"] == f"orchrecon: daily recovered (run {requested[3]}, manual)"


def test_processing_long_is_sent_once_while_the_run_still_runs(ws: Workspace, mailbox: Mailbox, hook: Webhook) -> None:
    scenes.project(ws, mailbox.port)
    scenes.orchestration(ws, [task("load")])
    ws.commit()
    for _ in range(3):  # history: quick successful runs (none is told: a slow machine may make one slower)
        assert run(ws).code == 0
    scenes.project(ws, mailbox.port, [{"events": ["processing-long"], "webhook": hook.url(), "overtimePercent": 100}])
    ws.configure("ex/load", parameters={"gate": "go"})
    ws.commit()
    process = ws.start("run", "daily", env=scenes.environ())
    builders.wait_until(lambda: hook.bodies("processing-long"), 20, what="processing-long")
    run_id = ws.requested()[-1]
    assert [r["status"] for r in ws.runs() if r["id"] == run_id] == ["processing"]
    time.sleep(0.5)  # a second one would come at once: the timer is looked at again after each send
    ws.release("go")
    assert ws.finish(process, timeout=30).code == 0
    assert [(b["event"], b["run"], b["status"]) for b in hook.bodies()] == [("processing-long", run_id, "processing")]
    assert [r["type"] for r in scenes.notifications_of(ws, run_id)] == ["notification.sending", "notification.sent"]


def test_a_dead_webhook_is_recorded_failed_after_3_attempts_and_delays_the_end_by_at_most_the_budget(
    ws: Workspace,
) -> None:
    budget = Policy().budget
    with receivers.webhook(500) as failing, receivers.webhook(hang=True) as silent:
        dead = [receivers.refused_url(), failing.url(), silent.url()]
        scenes.project(ws, None)
        scenes.orchestration(ws, [task("load", exit=1)], [{"events": ["failed"], "webhook": url} for url in dead])
        ws.commit()
        started = time.monotonic()
        done = run(ws)
        took = time.monotonic() - started
        assert done.code == 1
        assert len(failing.received) == 3
        assert len(silent.received) == 3
    run_id = ws.requested()[-1]
    records = scenes.notifications_of(ws, run_id)
    failed = {r["recipient"]: r for r in records if r["type"] == "notification.failed"}
    assert sorted(failed) == sorted(receivers.origin(url) for url in dead)
    assert {r["attempts"] for r in failed.values()} == {3}
    assert failed[receivers.origin(failing.url())]["error"].endswith("HTTP 500")
    assert "no answer within 5s" in failed[receivers.origin(silent.url())]["error"]
    assert not [r for r in records if r["type"] == "notification.sent"]
    finished = next(r for r in ws.ledger() if r["type"] == "run.finished")
    ended = next(r for r in reversed(ws.ledger()) if r["type"] == "task.finished")
    assert (parse_time(finished["time"]) - parse_time(ended["time"])).total_seconds() < 1  # its end is not held up
    claimed = next(r for r in records if r["type"] == "notification.sending")
    assert claimed["seq"] > finished["seq"]  # the deliveries come after the run's end, never before it
    assert took < budget + 6, f"the command took {took:.1f}s; the budget is {budget:g}s plus start-up"
    assert "notification failed: failed to http://127.0.0.1" in done.err
    assert "secret-token" not in json.dumps(records) + done.out + done.err  # written literally, so in its definition


def test_a_retry_tells_the_person_through_the_smtp_of_the_run_s_revision(ws: Workspace, mailbox: Mailbox) -> None:
    scenes.project(ws, mailbox.port)
    scenes.orchestration(ws, [task("load", exit=1)], [{"events": ["failed"], "email": "team@example.com"}])
    ws.commit()
    assert run(ws).code == 1
    first = ws.requested()[-1]
    scenes.project(ws, int(receivers.refused_url().split(":")[2].split("/")[0]))  # a server that is not there
    ws.commit()
    done = ws.finish(ws.start("retry", first, "--as", "bob@example.com", env=scenes.environ()), timeout=60)
    assert done.code == 1, done.err
    assert [m["To"] for m in mailbox.messages] == ["team@example.com", "bob@example.com"]
    retried = ws.requested()[-1]
    assert [(r["run"], r["type"]) for r in scenes.notifications_of(ws, retried)] == [
        (retried, "notification.sending"),
        (retried, "notification.sent"),
    ]
