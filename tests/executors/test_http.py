from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchrecon.documents.model import EnvValue, FromEnv, HttpCall, Poll
from orchrecon.executors import Outcome, TaskJob, TaskResult
from orchrecon.executors.http import HttpExecutor, json_pointer
from tests.executors.fakeapi import FakeApi, fake_api
from tests.executors.jobs import TOKEN, async_wait_until, configuration, task_job

MS = timedelta(milliseconds=1)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with fake_api() as fake:
        yield fake


def poll(url: str = "/url", *, timeout: timedelta | None = None) -> Poll:
    return Poll(
        url=url,
        interval=20 * MS,
        status_pointer="/job/status",
        success=("success",),
        warning=("warning",),
        error=("error",),
        timeout=timeout,
    )


def http_job(
    root: Path,
    url: str,
    *,
    poll: Poll | None = None,
    body: Any = None,
    headers: dict[str, EnvValue] | None = None,
    token_header: str = "Authorization",
    request_timeout: timedelta = timedelta(seconds=5),
    run_timeout: timedelta = timedelta(seconds=5),
) -> TaskJob:
    call = HttpCall(
        url=url,
        method="POST",
        headers=headers or {},
        body=body,
        token_header=token_header,
        timeout=request_timeout,
        poll=poll,
    )
    return task_job(root, configuration(http=call, timeout=run_timeout), environ={"API_KEY": "key-98765"})


def run(job: TaskJob) -> TaskResult:
    return asyncio.run(HttpExecutor().run(job))


def assert_no_token(job: TaskJob, result: TaskResult) -> None:
    assert TOKEN not in job.log_path.read_text()
    assert TOKEN not in (result.error or "")


def test_a_2xx_without_poll_is_success_with_the_bearer_token(tmp_path: Path, api: FakeApi) -> None:
    job = http_job(tmp_path, f"{api.base}/jobs", headers={"X-Api-Key": FromEnv(var="API_KEY"), "Accept": "x/y"})
    result = run(job)
    assert result == TaskResult(outcome=Outcome.SUCCESS, details={"status_code": 201})
    (request,) = api.received
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert (request.headers["x-api-key"], request.headers["accept"]) == ("key-98765", "x/y")
    assert request.headers["content-type"] == "application/json"
    assert "key-98765" not in job.log_path.read_text()
    assert_no_token(job, result)


def test_a_custom_token_header_carries_the_bare_token(tmp_path: Path, api: FakeApi) -> None:
    assert run(http_job(tmp_path, f"{api.base}/jobs", token_header="X-Orchrecon-Token")).outcome is Outcome.SUCCESS
    assert api.received[0].headers["x-orchrecon-token"] == TOKEN
    assert "authorization" not in api.received[0].headers


def test_the_default_body_holds_the_merged_parameters_and_an_explicit_body_replaces_it(
    tmp_path: Path, api: FakeApi
) -> None:
    run(http_job(tmp_path, f"{api.base}/jobs"))
    run(http_job(tmp_path, f"{api.base}/jobs", body={"mode": "full", "tables": ["a"]}))
    assert api.bodies() == [{"parameters": {"incremental": True, "days": 3}}, {"mode": "full", "tables": ["a"]}]


def test_http_500_is_an_error_with_a_redacted_excerpt(tmp_path: Path, api: FakeApi) -> None:
    job = http_job(tmp_path, f"{api.base}/fail")
    result = run(job)
    assert result.outcome is Outcome.ERROR
    assert result.error == f"HTTP 500 from POST {api.base}/fail: storage exploded (auth was Bearer ***)"
    assert_no_token(job, result)


def test_polling_through_a_json_pointer_until_success(tmp_path: Path, api: FakeApi) -> None:
    api.busy_polls = 2
    job = http_job(tmp_path, f"{api.base}/jobs", poll=poll("/url"))
    result = run(job)
    assert result.outcome is Outcome.SUCCESS
    assert result.details == {"poll_url": f"{api.base}/jobs/1", "remote_id": "1", "status": "success"}
    polls = [r for r in api.received if r.method == "GET"]
    assert len(polls) == 3
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in polls)
    assert job.log_path.read_text().count("status 'processing'") == 2
    assert_no_token(job, result)


def test_polling_through_a_relative_url_from_a_nested_pointer(tmp_path: Path, api: FakeApi) -> None:
    result = run(http_job(tmp_path, f"{api.base}/jobs", poll=poll("/links/status")))
    assert (result.outcome, result.details["poll_url"]) == (Outcome.SUCCESS, f"{api.base}/jobs/1")


def test_polling_through_a_template(tmp_path: Path, api: FakeApi) -> None:
    api.busy_polls = 1
    result = run(http_job(tmp_path, f"{api.base}/jobs", poll=poll(f"{api.base}/jobs/{{id}}")))
    assert (result.outcome, result.details["poll_url"]) == (Outcome.SUCCESS, f"{api.base}/jobs/1")


def test_a_template_naming_a_missing_field_is_an_error(tmp_path: Path, api: FakeApi) -> None:
    result = run(http_job(tmp_path, f"{api.base}/jobs", poll=poll(f"{api.base}/jobs/{{job_id}}")))
    assert result.error == (
        f"poll url placeholder {{job_id}} has no field 'job_id' in the response from POST {api.base}/jobs"
    )


def test_an_error_status_ends_the_task_in_error(tmp_path: Path, api: FakeApi) -> None:
    api.final_status = "error"
    result = run(http_job(tmp_path, f"{api.base}/jobs", poll=poll()))
    assert (result.outcome, result.error) == (Outcome.ERROR, "remote job ended with status 'error'")
    assert result.details["status"] == "error"


def test_a_warning_status_is_success_with_a_warning(tmp_path: Path, api: FakeApi) -> None:
    api.final_status = "warning"
    result = run(http_job(tmp_path, f"{api.base}/jobs", poll=poll()))
    assert result.outcome is Outcome.SUCCESS
    assert (result.details["warning"], result.details["status"]) == (True, "warning")


def test_polling_stops_at_the_poll_timeout(tmp_path: Path, api: FakeApi) -> None:
    api.busy_polls = 10**6
    result = run(http_job(tmp_path, f"{api.base}/jobs", poll=poll(timeout=200 * MS)))
    assert result.error == f"timed out after 0.2s waiting for {api.base}/jobs/1 (last status 'processing')"


def test_the_run_timeout_bounds_polling_without_its_own_timeout(tmp_path: Path, api: FakeApi) -> None:
    api.busy_polls = 10**6
    result = run(http_job(tmp_path, f"{api.base}/jobs", poll=poll(), run_timeout=200 * MS))
    assert (result.outcome, result.error) == (Outcome.ERROR, "timed out after 0.2s")


def test_a_closed_port_is_a_one_line_connection_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(http_job(tmp_path, f"http://127.0.0.1:{port}/jobs"))
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert result.error.startswith(f"cannot connect to http://127.0.0.1:{port}/jobs: ")
    assert "\n" not in result.error


def test_a_slow_response_is_a_request_timeout(tmp_path: Path, api: FakeApi) -> None:
    result = run(http_job(tmp_path, f"{api.base}/slow", request_timeout=200 * MS))
    assert result.error == f"request timed out after 0.2s: POST {api.base}/slow"


def test_a_non_json_response_where_json_is_needed(tmp_path: Path, api: FakeApi) -> None:
    result = run(http_job(tmp_path, f"{api.base}/html", poll=poll()))
    assert result.error == (
        f"expected a JSON response from POST {api.base}/html, got text/html: <html><body>maintenance</body></html>"
    )


def test_a_missing_secret_is_an_error_without_any_request(tmp_path: Path, api: FakeApi) -> None:
    result = run(http_job(tmp_path, f"{api.base}/jobs", headers={"X-Key": FromEnv(var="NOPE")}))
    assert (result.outcome, result.error) == (Outcome.ERROR, "environment variable NOPE is not set")
    assert api.received == []


def test_cancellation_stops_polling_and_propagates(tmp_path: Path, api: FakeApi) -> None:
    api.busy_polls = 10**6
    job = http_job(tmp_path, f"{api.base}/jobs", poll=poll())

    async def scenario() -> None:
        task = asyncio.create_task(HttpExecutor().run(job))
        assert await async_wait_until(lambda: any(r.method == "GET" for r in api.received))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert "cancelled" in job.log_path.read_text()


def test_json_pointer_follows_rfc_6901() -> None:
    document = {"a/b": {"m~n": [10, 20]}, "": 1}
    assert json_pointer(document, "/a~1b/m~0n/1") == 20
    assert json_pointer(document, "/") == 1
    assert json_pointer(document, "") is document
    for missing in ("/a~1b/m~0n/2", "/a~1b/m~0n/01", "/x", "nope"):
        with pytest.raises(LookupError):
            json_pointer(document, missing)
