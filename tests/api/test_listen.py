"""`reconcile --listen`: a free port with `:0`, a port in use or a bad address refused in one line, a slow
client that blocks nobody, readiness that says why not, and the API gone once the reconciler stopped."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.server import Server, environ, orchrecon, start, wait_until
from tests.builders import git, small_repo


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one orchestration")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = orchrecon(repo, tmp_path / "state", tmp_path, "reconcile", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert done.stderr == f"orchrecon: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    again = orchrecon(repo, tmp_path / "state", tmp_path, "reconcile", "--once")
    assert again.returncode == 0, again.stderr  # the lock was given back


def test_a_malformed_address_is_a_usage_error(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    for address in ("8080", "localhost:http", "127.0.0.1:70000", ":80"):
        done = orchrecon(repo, tmp_path / "state", tmp_path, "reconcile", "--listen", address)
        assert done.returncode == 2, address
        assert done.stderr.startswith(f"orchrecon: error: --listen {address!r}: expected HOST:PORT"), done.stderr


def test_a_client_that_sends_half_a_request_delays_no_other(api: Server) -> None:
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as slow:
        slow.sendall(b"POST /api/v1/tables/in.c-ex.a/updated HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        began = time.monotonic()
        answer = api.request("GET", "/api/v1/runs", "reader")
        assert answer.status_code == 200
        assert time.monotonic() - began < 2
    with socket.create_connection((host, int(port))) as half:
        half.sendall(b"GET /api/v1/runs HTTP/1.1\r\nHost: x\r\n")
        assert api.request("GET", "/healthz").status_code == 200


def test_readyz_says_why_it_is_not_ready(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo")
    git(repo, "init", "-q", "-b", "main")  # no commit: nothing to apply
    state = tmp_path / "state"
    command = [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "reconcile"]
    process = subprocess.Popen(
        [*command, "--listen", "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environ(tmp_path)
    )
    try:
        status = state / "status" / "_reconciler.json"
        wait_until(lambda: status.exists() and json.loads(status.read_text()).get("api"), "the url", 30)
        url = json.loads(status.read_text())["api"]["url"]
        answer = httpx.get(f"{url}/readyz")
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "unavailable"
        assert answer.json()["error"]["message"].startswith("no source revision applied yet (NoCommits:")
        assert httpx.get(f"{url}/healthz").status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_sigterm_stops_the_api_with_the_reconciler(tmp_path: Path) -> None:
    server = start(tmp_path, tokens={})
    server.stop()
    assert server.process.returncode == 0, server.err.read_text()
    assert "Traceback" not in server.err.read_text()
    try:
        httpx.get(f"{server.url}/healthz", timeout=2)
    except httpx.ConnectError:
        pass
    else:
        raise AssertionError("the API still answers after the reconciler stopped")
    status = json.loads((server.state / "status" / "_reconciler.json").read_text())
    assert status["stoppedAt"] is not None
