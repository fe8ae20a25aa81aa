"""A local HTTP server that follows Keboola's documented Job Queue API, for the keboola executor tests.

What it answers, as the API does:

- `POST /jobs` with `component`, `config`, `mode` (`run` or `debug`), optional `configRowIds`, `branchId` and
  `configData`: 201 and the job (`id`, `runId`, `status: created`, `desiredStatus`, `url`, `isFinished`, …).
- `GET /jobs/{id}`: the job. Each poll moves it one step along its configuration's script (`waiting`,
  `processing`, then a finished status: `success`, `warning`, `error`, `cancelled`, `terminated`); a job whose
  configuration Keboola holds locked (another job of it runs) stays `waiting` until the lock is released.
- `POST /jobs/{id}/kill`: 202; a job not yet processing is `cancelled` at once, a processing one is
  `terminating`, then `terminated` at the next poll (as Keboola's runner takes a moment to stop it).
- Errors as the API gives them: `{"error": …, "code": …, "exceptionId": …, "status": "error"}`; a wrong or
  missing `X-StorageApi-Token` is 401 "Invalid access token" on every endpoint; during an outage a poll is 503.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.executors.fakeapi import serving

STORAGE_TOKEN = "1234-56789-kbcStorageTokenSecret"
FINISHED = ("success", "warning", "error", "cancelled", "terminated")
_JOB = re.compile(r"^/jobs/([0-9]+)(/kill)?$")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class _Job:
    id: str
    body: dict[str, Any]
    script: list[str]
    status: str = "created"
    desired: str = "processing"
    message: str | None = None


@dataclass
class JobQueue:
    """The fake API's state: `scripts` gives each configuration id its statuses after `created`, one per poll
    (default: waiting, processing, success); `messages` the `result.message` of its finished job; `locked`
    the configurations whose Keboola lock is held."""

    base: str = ""
    scripts: dict[str, list[str]] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    outages: int = 0  # the next polls answered 503, as the API does while it is deployed or overloaded
    received: list[Received] = field(default_factory=list)
    killed: threading.Event = field(default_factory=threading.Event)
    processing: threading.Event = field(default_factory=threading.Event)
    jobs: dict[str, _Job] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Received) -> tuple[int, Any]:
        with self._lock:
            self.received.append(request)
            if request.headers.get("x-storageapi-token") != STORAGE_TOKEN:
                return _error(401, "Invalid access token")
            if request.path == "/jobs" and request.method == "POST":
                return self._create(request.body)
            match = _JOB.match(request.path)
            if match is None:
                return _error(404, f'Route "{request.path}" not found')
            job = self.jobs.get(match[1])
            if job is None:
                return _error(404, f'Job "{match[1]}" not found')
            if match[2] and request.method == "POST":
                return 202, self._kill(job)
            if not match[2] and request.method == "GET":
                if self.outages:
                    self.outages -= 1
                    return _error(503, "Service Unavailable")
                return 200, self._poll(job)
            return _error(405, f"Method {request.method} not allowed")

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("component"), str):
            return _error(400, 'Invalid configuration for path "job": The child config "component" must be set.')
        if body.get("mode", "run") not in ("run", "debug"):
            return _error(400, f'Invalid mode "{body.get("mode")}"')
        job_id = str(1000 + len(self.jobs))
        config = str(body.get("config"))
        job = _Job(job_id, body, list(self.scripts.get(config, ["waiting", "processing", "success"])))
        self.jobs[job_id] = job
        return 201, self._view(job)

    def _poll(self, job: _Job) -> dict[str, Any]:
        config = str(job.body.get("config"))
        if job.status == "terminating":
            job.status = "terminated"
        elif job.status not in FINISHED and job.script:
            if job.script[0] == "processing" and config in self.locked:
                job.status = "waiting"  # Keboola's configuration lock: the job waits in the queue
            else:
                job.status = job.script.pop(0)
        if job.status == "processing":
            self.processing.set()
        if job.status in FINISHED:
            job.message = self.messages.get(config)
        return self._view(job)

    def _kill(self, job: _Job) -> dict[str, Any]:
        self.killed.set()
        job.desired = "terminating"
        if job.status in ("created", "waiting"):
            job.status = "cancelled"
        elif job.status == "processing":
            job.status = "terminating"
        return self._view(job)

    def _view(self, job: _Job) -> dict[str, Any]:
        body = job.body
        return {
            "id": job.id,
            "runId": job.id,
            "branchId": body.get("branchId"),
            "project": {"id": "123"},
            "token": {"id": "4567", "description": "orchrecon"},
            "status": job.status,
            "desiredStatus": job.desired,
            "mode": body.get("mode", "run"),
            "component": body["component"],
            "config": body.get("config"),
            "configRowIds": body.get("configRowIds", []),
            "configData": body.get("configData"),
            "result": {"message": job.message} if job.message else {},
            "createdTime": "2026-12-03T10:00:00+00:00",
            "startTime": None,
            "endTime": None,
            "isFinished": job.status in FINISHED,
            "url": f"{self.base}/jobs/{job.id}",
        }

    def requests(self, method: str, path: str) -> list[Received]:
        return [r for r in self.received if r.method == method and r.path == path]


def _error(code: int, message: str) -> tuple[int, Any]:
    return code, {
        "error": message,
        "code": code,
        "exceptionId": f"job-runner-{secrets.token_hex(8)}",
        "status": "error",
        "context": {},
    }


class _Server(ThreadingHTTPServer):
    queue: JobQueue


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, value = self.server.queue.answer(Received(self.command, self.path, headers, body))
        payload = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests assert on recorded requests instead."""


@contextmanager
def job_queue() -> Iterator[JobQueue]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.queue = JobQueue()
    with serving(server) as base:
        server.queue.base = base
        yield server.queue
