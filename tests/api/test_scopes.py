"""Every scope boundary: what each kind of token may do, and the 403 for everything else."""

from __future__ import annotations

import pytest

from tests.api.server import Server

RUN = "/api/v1/orchestrations/{o}/runs"
TABLE = "/api/v1/tables/in.c-ex.a/updated"

# (token, method, path, status): 202/200/201 allowed; 403 refused (or 404 where allowed but unknown)
CASES = [
    # a trigger token for daily: daily's runs, nothing else (as Keboola's, it needs no table access)
    ("trigger-daily", "POST", RUN.format(o="daily"), 202),
    ("trigger-daily", "GET", "/api/v1/orchestrations/daily", 200),
    ("trigger-daily", "GET", "/api/v1/runs?orchestration=daily", 200),
    ("trigger-daily", "POST", RUN.format(o="weekly"), 403),
    ("trigger-daily", "GET", "/api/v1/orchestrations/weekly", 403),
    ("trigger-daily", "GET", "/api/v1/runs?orchestration=weekly", 403),
    ("trigger-daily", "POST", TABLE, 403),
    ("trigger-daily", "GET", "/api/v1/tokens", 403),
    ("trigger-daily", "POST", "/api/v1/tokens", 403),
    ("trigger-daily", "DELETE", "/api/v1/tokens/reader", 403),
    ("trigger-daily", "GET", "/metrics", 403),
    # runs:read: reading only
    ("reader", "GET", "/api/v1/orchestrations", 200),
    ("reader", "GET", "/api/v1/orchestrations/weekly", 200),
    ("reader", "GET", "/metrics", 200),
    ("reader", "POST", RUN.format(o="daily"), 403),
    ("reader", "POST", TABLE, 403),
    ("reader", "GET", "/api/v1/tokens", 403),
    ("reader-daily", "GET", "/api/v1/orchestrations/weekly", 403),
    ("reader-daily", "GET", "/metrics", 403),
    # tables:write: table updates only
    ("tables", "POST", TABLE, 202),
    ("tables", "GET", "/api/v1/runs", 403),
    ("tables", "GET", "/api/v1/orchestrations/daily", 403),
    ("tables", "POST", RUN.format(o="daily"), 403),
    ("tables", "GET", "/metrics", 403),
    # admin: everything
    ("admin", "GET", "/api/v1/tokens", 200),
    ("admin", "GET", "/metrics", 200),
    ("admin", "POST", TABLE, 202),
    ("admin", "GET", "/api/v1/orchestrations/nope", 404),
    ("admin", "POST", RUN.format(o="nope"), 404),
]


@pytest.mark.parametrize(("token", "method", "path", "status"), CASES)
def test_scope(api: Server, token: str, method: str, path: str, status: int) -> None:
    answer = api.request(method, path, token)
    assert answer.status_code == status, answer.text
    if status == 403:
        assert answer.json()["error"]["code"] == "forbidden"


def test_a_limited_token_is_refused_on_an_unknown_orchestration_rather_than_told_it_is_unknown(api: Server) -> None:
    assert api.request("POST", RUN.format(o="nope"), "trigger-daily").status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/runs?orchestration=daily", 200),
        ("GET", "/api/v1/orchestrations/daily", 200),
        ("POST", TABLE, 202),
        ("GET", "/api/v1/runs?orchestration=weekly", 403),
        ("GET", "/api/v1/orchestrations/weekly", 403),
        ("POST", RUN.format(o="daily"), 403),
        ("POST", RUN.format(o="weekly"), 403),
        ("GET", "/api/v1/tokens", 403),
        ("GET", "/metrics", 403),
    ],
)
def test_an_orchestration_token_reports_tables_and_reads_its_own_runs_only(
    api: Server, method: str, path: str, status: int
) -> None:
    answer = api.request(method, path, api.orchestration_token("daily"))
    assert answer.status_code == status, answer.text


def test_an_orchestration_token_is_refused_on_another_orchestration_s_run(api: Server) -> None:
    run_id = api.request("POST", RUN.format(o="weekly"), "admin").json()["id"]
    token = api.orchestration_token("daily")
    assert api.request("GET", f"/api/v1/runs/{run_id}", token).status_code == 403
    assert api.request("POST", f"/api/v1/runs/{run_id}/cancel", token).status_code == 403
    assert api.request("POST", f"/api/v1/runs/{run_id}/retry", token).status_code == 403


def test_a_trigger_token_may_not_retry_or_cancel_another_orchestration_s_run(api: Server) -> None:
    run_id = api.request("POST", RUN.format(o="weekly"), "admin").json()["id"]
    api.finished(run_id)
    assert api.request("POST", f"/api/v1/runs/{run_id}/retry", "trigger-daily").status_code == 403
    assert api.request("GET", f"/api/v1/runs/{run_id}", "trigger-daily").status_code == 403
