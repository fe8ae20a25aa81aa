"""Every endpoint against a real reconciler: what it answers, and that what it starts really runs."""

from __future__ import annotations

import json

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from tests.api.server import Server, wait_until


def test_healthz_and_readyz_need_no_token(api: Server) -> None:
    assert api.request("GET", "/healthz").json() == {"status": "alive"}
    assert api.request("GET", "/readyz").json() == {"status": "ready"}


def test_the_reconciler_status_names_the_url_and_the_log_says_it(api: Server) -> None:
    status = json.loads((api.state / "status" / "_reconciler.json").read_text())
    assert status["api"] == {"url": api.url}
    assert f"listening  url={api.url}" in api.out.read_text()


def test_orchestrations_are_listed_with_their_published_status(api: Server) -> None:
    listed = api.request("GET", "/api/v1/orchestrations", "reader").json()["orchestrations"]
    names = [o["metadata"]["name"] if "metadata" in o else o["name"] for o in listed]
    assert names == ["broken", "daily", "marts", "paused", "slow", "weekly"]
    one = api.request("GET", "/api/v1/orchestrations/daily", "reader").json()
    assert one == json.loads((api.state / "status" / "daily.json").read_text())


def test_a_limited_token_sees_only_its_orchestrations(api: Server) -> None:
    listed = api.request("GET", "/api/v1/orchestrations", "reader-daily").json()["orchestrations"]
    assert len(listed) == 1
    assert listed[0] == api.request("GET", "/api/v1/orchestrations/daily", "admin").json()


def test_a_run_started_over_the_api_runs_and_reads_as_show_prints_it(api: Server) -> None:
    started = api.request("POST", "/api/v1/orchestrations/daily/runs", "trigger-all")
    assert started.status_code == 202
    body = started.json()
    assert body == {
        "id": body["id"],
        "orchestration": "daily",
        "status": "waiting",
        "trigger": "api",
        "by": "ci@example.com",
    }
    assert started.headers["location"] == f"/api/v1/runs/{body['id']}"
    requested = [r for r in api.ledger() if r["type"] == "run.requested" and r["run"] == body["id"]]
    assert [r["cause"] for r in requested] == [{"token": "trigger-all"}]  # durable before the 202
    run = api.finished(body["id"])
    assert run["status"] == "success"
    shown = api.cli("show", body["id"], "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert run == json.loads(shown.stdout)


def test_a_selection_runs_only_the_named_tasks(api: Server) -> None:
    body = {"tasks": ["second"]}
    started = api.request("POST", "/api/v1/orchestrations/weekly/runs", "admin", json=body).json()
    run = api.finished(started["id"])
    tasks = {t["name"]: t["status"] for p in run["phases"] for t in p["tasks"]}
    assert tasks == {"first": "skipped", "second": "success", "off": "skipped"}
    assert run["by"] is None  # the admin token carries no email


def test_a_suspended_orchestration_may_be_run_by_hand(api: Server) -> None:
    started = api.request("POST", "/api/v1/orchestrations/paused/runs", "admin")
    assert started.status_code == 202
    assert api.finished(started.json()["id"])["status"] == "success"


def test_runs_are_listed_newest_first_within_the_limit(api: Server) -> None:
    first = api.request("POST", "/api/v1/orchestrations/daily/runs", "admin").json()["id"]
    second = api.request("POST", "/api/v1/orchestrations/daily/runs", "admin").json()["id"]
    api.finished(second)  # runs of one orchestration never overlap: the first ended before
    listed = api.request("GET", "/api/v1/runs", "reader", params={"orchestration": "daily", "limit": "2"}).json()
    assert [r["id"] for r in listed["runs"]] == [second, first]
    shown = api.cli("runs", "daily", "--limit", "2", "--format", "json")
    assert listed == json.loads(shown.stdout)
    everything = api.request("GET", "/api/v1/runs", "reader").json()["runs"]
    assert len(everything) <= 20
    assert {r["orchestration"] for r in everything} > {"daily"}


def test_a_retry_over_the_api_runs_the_failed_part_and_points_back(api: Server) -> None:
    old = api.request("POST", "/api/v1/orchestrations/weekly/runs", "admin").json()["id"]
    api.finished(old)
    retried = api.request("POST", f"/api/v1/runs/{old}/retry", "trigger-all", json={"tasks": ["first"]})
    assert retried.status_code == 202, retried.text
    body = retried.json()
    assert (body["trigger"], body["retryOf"], body["by"]) == ("retry", old, "ci@example.com")
    run = api.finished(body["id"])
    assert {t["name"]: t["status"] for p in run["phases"] for t in p["tasks"]}["first"] == "success"
    assert run["retryOf"] == old


def test_a_cancel_over_the_api_stops_the_run_and_names_the_token(api: Server) -> None:
    run_id = api.request("POST", "/api/v1/orchestrations/slow/runs", "admin").json()["id"]
    wait_until(lambda: any(r["type"] == "task.started" and r["run"] == run_id for r in api.ledger()), "the task")
    cancelled = api.request("POST", f"/api/v1/runs/{run_id}/cancel", "trigger-all")
    assert cancelled.status_code == 202
    assert cancelled.json()["cancelRequested"] is True
    run = api.finished(run_id)
    assert run["status"] == "terminated"
    assert run["reason"] == "cancelled by ci@example.com"
    again = api.request("POST", f"/api/v1/runs/{run_id}/cancel", "admin")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == f"run {run_id} already ended: terminated"


def test_table_updates_over_the_api_fire_the_trigger(api: Server) -> None:
    wait_until(lambda: any(r["type"] == "trigger.armed" for r in api.ledger()), "the trigger to be armed")
    for table in ("in.c-ex.a", "in.c-ext.b"):
        answer = api.request("POST", f"/api/v1/tables/{table}/updated", "tables")
        assert answer.status_code == 202
        assert answer.json()["table"] == table
    wait_until(lambda: any(r["type"] == "trigger.fired" for r in api.ledger()), "the trigger to fire")
    updates = [r for r in api.ledger() if r["type"] == "table.updated" and r["table"] == "in.c-ext.b"]
    assert updates[-1]["source"] == "api token tables"
    fired = next(r for r in api.ledger() if r["type"] == "trigger.fired")
    assert api.finished(fired["run"])["trigger"] == "trigger"


def test_the_orchestration_token_reports_its_tables_and_reads_its_own_runs(api: Server) -> None:
    token = api.orchestration_token("daily")
    assert api.request("POST", "/api/v1/tables/in.c-ex.a/updated", token).status_code == 202
    listed = api.request("GET", "/api/v1/runs", token).json()["runs"]
    assert {r["orchestration"] for r in listed} <= {"daily"}


def test_tokens_are_administered_over_the_api(api: Server) -> None:
    made = api.request("POST", "/api/v1/tokens", "admin", json={"name": "made", "scopes": ["runs:read"]})
    assert made.status_code == 201, made.text
    secret = made.json()["token"]
    assert secret.startswith("orc_")
    assert api.request("GET", "/api/v1/runs", secret).status_code == 200
    listed = api.request("GET", "/api/v1/tokens", "admin").json()["tokens"]
    assert "made" in [t["name"] for t in listed]
    assert all("token" not in t for t in listed)
    assert api.request("DELETE", "/api/v1/tokens/made", "admin").json() == {"revoked": "made"}
    assert api.request("GET", "/api/v1/runs", secret).status_code == 401
    assert api.request("DELETE", "/api/v1/tokens/made", "admin").status_code == 404


def test_metrics_count_runs_and_passes(api: Server) -> None:
    run_id = api.request("POST", "/api/v1/orchestrations/daily/runs", "admin").json()["id"]
    api.finished(run_id)

    def counted() -> bool:
        text = api.request("GET", "/metrics", "reader").text
        return 'orchrecon_runs_total{orchestration="daily",status="success"}' in text

    wait_until(counted, "the run to be counted")
    text = api.request("GET", "/metrics", "admin").text
    for name in (
        "orchrecon_task_duration_seconds_bucket",
        "orchrecon_runs_waiting",
        "orchrecon_runs_processing",
        "orchrecon_reconcile_passes_total",
        "orchrecon_reconcile_duration_seconds_count",
        'orchrecon_validation_errors{orchestration="broken"} 1.0',
        "orchrecon_last_successful_reconcile_timestamp_seconds",
    ):
        assert name in text, name
    assert run_id not in text


def test_metrics_count_notifications_from_the_ledger_without_the_recipient(api: Server) -> None:
    delivery = {"run": "20261202-000000-abcdef", "orchestration": "daily", "event": "failed", "attempts": 3}
    Ledger(api.state / "ledger", SystemClock()).append(
        [
            {"type": "notification.sent", **delivery, "channel": "email", "recipient": "ann@example.com", "key": "a"},
            {"type": "notification.failed", **delivery, "channel": "webhook", "recipient": "https://hooks.example"},
        ]
    )
    sent = 'orchrecon_notifications_total{channel="email",event="failed",orchestration="daily",outcome="sent"} 1.0'
    failed = (
        'orchrecon_notifications_total{channel="webhook",event="failed",orchestration="daily",outcome="failed"} 1.0'
    )
    wait_until(lambda: sent in api.request("GET", "/metrics", "admin").text, "the delivery to be counted")
    text = api.request("GET", "/metrics", "admin").text
    assert failed in text
    assert "ann@example.com" not in text
    assert "hooks.example" not in text
