"""Every error is a JSON body `{"error": {"code", "message"}}` whose message names what is wrong; path
traversal and percent-encoded separators never reach a lookup."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from syrupy.assertion import SnapshotAssertion

from tests.api.server import Server

RUNS = "/api/v1/orchestrations/daily/runs"
UNKNOWN_RUN = "/api/v1/runs/20200101-000000-abcdef"

CASES: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
    # (what, method, path, token, httpx keyword arguments)
    ("no token", "GET", "/api/v1/runs", None, {}),
    ("a wrong token", "GET", "/api/v1/runs", "orc_not-a-token", {}),
    ("not a bearer token", "GET", "/api/v1/runs", None, {"headers": {"Authorization": "Basic YWRtaW46YWRtaW4="}}),
    ("outside the scope", "POST", RUNS, "reader", {}),
    ("another orchestration", "POST", "/api/v1/orchestrations/weekly/runs", "trigger-daily", {}),
    ("token administration", "GET", "/api/v1/tokens", "trigger-daily", {}),
    ("metrics", "GET", "/metrics", "tables", {}),
    ("an unknown endpoint", "GET", "/api/v1/nothing", "admin", {}),
    ("an unknown orchestration", "GET", "/api/v1/orchestrations/nope", "admin", {}),
    ("an unknown run", "GET", UNKNOWN_RUN, "admin", {}),
    ("a malformed run id", "GET", "/api/v1/runs/latest", "admin", {}),
    ("an unknown table", "POST", "/api/v1/tables/in.c-nobody.x/updated", "tables", {}),
    ("an invalid table id", "POST", "/api/v1/tables/-x/updated", "tables", {}),
    ("a wrong method", "DELETE", RUNS, "admin", {}),
    ("a wrong method without a token", "PUT", "/api/v1/runs", None, {}),
    ("never valid", "POST", "/api/v1/orchestrations/broken/runs", "admin", {}),
    ("a retry of an unknown run", "POST", f"{UNKNOWN_RUN}/retry", "admin", {}),
    ("not JSON", "POST", RUNS, "admin", {"content": b"{tasks:"}),
    ("not an object", "POST", RUNS, "admin", {"json": ["first"]}),
    ("an unknown field", "POST", RUNS, "admin", {"json": {"task": ["first"]}}),
    ("a wrong type", "POST", RUNS, "admin", {"json": {"tasks": "first"}}),
    ("a wrong item type", "POST", RUNS, "admin", {"json": {"skipTasks": [1]}}),
    ("an unknown task", "POST", RUNS, "admin", {"json": {"tasks": ["nope"]}}),
    ("a disabled task", "POST", "/api/v1/orchestrations/weekly/runs", "admin", {"json": {"tasks": ["off"]}}),
    ("nothing left", "POST", RUNS, "admin", {"json": {"skipTasks": ["first"]}}),
    ("a bad limit", "GET", "/api/v1/runs", "admin", {"params": {"limit": "0"}}),
    ("a huge limit", "GET", "/api/v1/runs", "admin", {"params": {"limit": "1001"}}),
    ("an unknown query parameter", "GET", "/api/v1/runs", "admin", {"params": {"orchestrations": "daily"}}),
    ("an unknown orchestration's runs", "GET", "/api/v1/runs", "admin", {"params": {"orchestration": "nope"}}),
    ("a token without a name", "POST", "/api/v1/tokens", "admin", {"json": {"scopes": ["admin"]}}),
    ("a token with a bad scope", "POST", "/api/v1/tokens", "admin", {"json": {"name": "x", "scopes": ["root"]}}),
    ("a token that exists", "POST", "/api/v1/tokens", "admin", {"json": {"name": "reader", "scopes": ["admin"]}}),
    ("an unknown token", "DELETE", "/api/v1/tokens/nope", "admin", {}),
    ("a body too large", "POST", RUNS, "admin", {"content": b" " * (64 * 1024 + 1)}),
]


def test_error_bodies(api: Server, snapshot: SnapshotAssertion) -> None:
    found = {}
    for what, method, path, token, options in CASES:
        answer = api.request(method, path, token, **options)
        assert answer.headers["content-type"] == "application/json", what
        found[what] = (answer.status_code, answer.json())
    assert found == snapshot


def _chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // 1024):
        yield b" " * 1024


def test_a_streamed_body_is_cut_off_at_64_kib_without_a_length(api: Server) -> None:
    answer = api.request("POST", RUNS, "admin", content=_chunks(80 * 1024))
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too-large"


def test_a_body_just_within_the_limit_is_read(api: Server) -> None:
    padded = json.dumps({"skipTasks": []}).encode() + b" " * (64 * 1024 - 20)
    answer = api.request("POST", "/api/v1/orchestrations/paused/runs", "admin", content=padded)
    assert answer.status_code == 202


def _raw(api: Server, method: str, path: str, token: str) -> tuple[int, dict[str, Any]]:
    """A request whose path is sent byte for byte (httpx would normalise `..` away)."""
    where = urlsplit(api.url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    try:
        connection.request(method, path, headers={"Authorization": f"Bearer {api.secrets[token]}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/orchestrations/.."),
        ("GET", "/api/v1/orchestrations/%2e%2e"),
        ("GET", "/api/v1/orchestrations/%2E%2E%2Fsecrets"),
        ("GET", "/api/v1/orchestrations/..%2F..%2Fsecrets%2Fapi-tokens.json"),
        ("GET", "/api/v1/orchestrations/daily%2F..%2F..%2Fsecrets"),
        ("GET", "/api/v1/orchestrations/../../secrets/api-tokens.json"),
        ("GET", "/api/v1/runs/..%2F..%2Fsecrets%2Fapi-tokens.json"),
        ("GET", "/api/v1/runs/%2e%2e"),
        ("POST", "/api/v1/orchestrations/%2e%2e/runs"),
        ("POST", "/api/v1/orchestrations/daily%2f..%2fweekly/runs"),
        ("POST", "/api/v1/tables/%2e%2e/updated"),
        ("POST", "/api/v1/tables/..%2F..%2Fx/updated"),
        ("POST", "/api/v1/tables/in.c-ex.a%2F..%2F..%2Fx/updated"),
        ("DELETE", "/api/v1/tokens/..%2Freader"),
        ("DELETE", "/api/v1/tokens/%2e%2e"),
    ],
)
def test_path_traversal_and_percent_encoded_separators_are_refused(api: Server, method: str, path: str) -> None:
    status, body = _raw(api, method, path, "admin")
    assert status in (404, 422), body
    assert set(body["error"]) == {"code", "message"}
