"""A small real HTTP server faking an asynchronous job API, for the http executor tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class FakeApi:
    """POST /jobs creates a job; GET /jobs/ID answers `processing` `busy_polls` times, then `final_status`.

    POST /fail answers 500 echoing the Authorization header (to prove it is redacted), POST /slow waits until
    the test ends, POST /html answers a page that is not JSON. Every request is recorded.
    """

    base: str = ""
    busy_polls: int = 0
    final_status: str = "success"
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    _polls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Received) -> tuple[int, str, bytes]:
        with self._lock:
            self.received.append(request)
        if request.method == "POST" and request.path == "/jobs":
            job_id = str(len(self.received))
            return _json(
                201, {"id": job_id, "url": f"{self.base}/jobs/{job_id}", "links": {"status": f"jobs/{job_id}"}}
            )
        if request.method == "GET" and request.path.startswith("/jobs/"):
            with self._lock:
                count = self._polls[request.path] = self._polls.get(request.path, 0) + 1
            return _json(200, {"job": {"status": "processing" if count <= self.busy_polls else self.final_status}})
        if request.path == "/fail":
            return 500, "text/plain", f"storage exploded (auth was {request.headers.get('authorization')})".encode()
        if request.path == "/slow":
            self.release.wait(10)
            return _json(200, {})
        if request.path == "/html":
            return 200, "text/html", b"<html><body>maintenance</body></html>"
        return _json(404, {"error": "not found"})

    def bodies(self) -> list[Any]:
        return [json.loads(r.body) for r in self.received if r.body]


def _json(status: int, value: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(value).encode()


class _Server(ThreadingHTTPServer):
    fake: FakeApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on /slow makes the late answer fail; that is expected, not news."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, content_type, payload = self.server.fake.answer(Received(self.command, self.path, headers, body))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on recorded requests instead."""


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve in a thread while the block runs; yields the server's base URL."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def fake_api() -> Iterator[FakeApi]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeApi(base=f"http://127.0.0.1:{server.server_address[1]}")
    with serving(server):
        try:
            yield server.fake
        finally:
            server.fake.release.set()
