"""Run a configuration's `run.http`: one create request, then optionally polling the remote job to its end."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from orchrecon.documents.model import HttpCall, Poll
from orchrecon.executors import MissingSecretError, Outcome, TaskJob, TaskResult
from orchrecon.executors.environment import Redactor, resolve_env, secret_values, to_json
from orchrecon.executors.results import describe_duration, excerpt, failure
from orchrecon.executors.tasklog import TaskLog

ClientFactory = Callable[[], httpx.AsyncClient]
_PLACEHOLDER = re.compile(r"\{([^{}/]+)\}")
_NOT_FOUND = object()


def json_pointer(document: Any, pointer: str) -> Any:
    """The value at an RFC 6901 pointer (`""` is the whole document); raises LookupError when it is absent."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise LookupError(pointer)
    value = document
    for token in pointer[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and re.fullmatch(r"0|[1-9][0-9]*", key) and int(key) < len(value):
            value = value[int(key)]
        else:
            raise LookupError(pointer)
    return value


def _text(value: Any) -> str:
    """A JSON scalar as users write it in YAML lists: strings as they are, `true`/`3` for the others."""
    return value if isinstance(value, str) else json.dumps(value)


class _Failed(Exception):
    """The task failed; the message is the one line for people (redacted before it leaves the executor)."""


class HttpExecutor:
    """Calls `config.run.http`, with the orchestration token in `token_header`.

    Without `poll`, a 2xx response is success. With it, the status URL (a JSON pointer into the create response,
    or a template filled from its top-level fields, resolved against the create URL) is fetched every
    `poll.interval` until the value at `poll.status_pointer` is listed in `success`, `warning` or `error`.
    `config.run.timeout` bounds the whole call, `poll.timeout` the polling, `call.timeout` each request.
    `client_factory` builds the httpx client for one task (tests may pass one with a mock transport).
    """

    def __init__(self, *, client_factory: ClientFactory = httpx.AsyncClient) -> None:
        self._client_factory = client_factory

    async def run(self, job: TaskJob) -> TaskResult:
        call = job.config.run.http
        if call is None:
            return failure(f"configuration {job.config.ref} has no run.http")
        redactor = Redactor([job.token, *secret_values(call.headers, job.environ)])
        with TaskLog(job.log_path, redactor) as log:
            try:
                headers = httpx.Headers(resolve_env(call.headers, job.environ))
            except MissingSecretError as exc:
                log.line(str(exc))
                return failure(str(exc))
            headers[call.token_header] = f"Bearer {job.token}" if call.token_header == "Authorization" else job.token
            try:
                async with asyncio.timeout(job.config.run.timeout.total_seconds()), self._client_factory() as client:
                    result = await _HttpRun(job, call, client, headers, log).run()
            except asyncio.CancelledError:
                log.line("cancelled; stopped without cancelling the remote job")
                raise
            except TimeoutError:
                result = failure(f"timed out after {describe_duration(job.config.run.timeout)}")
            except _Failed as exc:
                result = failure(redactor.text(str(exc)))
            log.line(f"result: {result.outcome.value}" + (f": {result.error}" if result.error else ""))
            return failure(log.fault.reason) if log.fault is not None else result


class _HttpRun:
    """One execution of an http task: the create request and the polling that follows."""

    def __init__(
        self, job: TaskJob, call: HttpCall, client: httpx.AsyncClient, headers: httpx.Headers, log: TaskLog
    ) -> None:
        self._job, self._call, self._client, self._headers, self._log = job, call, client, headers, log
        self._started = asyncio.get_running_loop().time()

    async def run(self) -> TaskResult:
        call = self._call
        body = call.body if call.body is not None else {"parameters": self._job.parameters}
        response = await self._request(call.method, call.url, content=to_json(body).encode())
        if call.poll is None:
            return TaskResult(outcome=Outcome.SUCCESS, details={"status_code": response.status_code})
        created = self._json(response)
        url = self._poll_url(call.poll, created, response)
        details: dict[str, Any] = {"poll_url": url}
        if isinstance(created, Mapping) and isinstance(created.get("id"), (str, int)):
            details["remote_id"] = created["id"]
        return await self._poll(call.poll, url, details)

    async def _poll(self, poll: Poll, url: str, details: dict[str, Any]) -> TaskResult:
        last: str | None = None
        limit = poll.timeout.total_seconds() if poll.timeout is not None else None
        try:
            async with asyncio.timeout(limit):
                while True:
                    await asyncio.sleep(poll.interval.total_seconds())
                    response = await self._request("GET", url)
                    last = self._status(poll, response)
                    if last in poll.success:
                        return TaskResult(outcome=Outcome.SUCCESS, details={**details, "status": last})
                    if last in poll.warning:
                        return TaskResult(outcome=Outcome.SUCCESS, details={**details, "status": last, "warning": True})
                    if last in poll.error:
                        return failure(f"remote job ended with status {last!r}", **details, status=last)
        except TimeoutError:
            if poll.timeout is None:
                raise
            where = f" (last status {last!r})" if last is not None else ""
            raise _Failed(f"timed out after {describe_duration(poll.timeout)} waiting for {url}{where}") from None

    def _status(self, poll: Poll, response: httpx.Response) -> str:
        document = self._json(response)
        try:
            status = _text(json_pointer(document, poll.status_pointer))
        except LookupError:
            raise _Failed(
                f"status pointer {poll.status_pointer!r} not found in the response from GET {response.request.url}"
            ) from None
        self._log.line(f"{self._elapsed()} status {status!r}")
        return status

    def _poll_url(self, poll: Poll, created: Any, response: httpx.Response) -> str:
        source = f"the response from {response.request.method} {response.request.url}"
        if poll.url.startswith("/"):
            try:
                target = json_pointer(created, poll.url)
            except LookupError:
                raise _Failed(f"poll url pointer {poll.url!r} not found in {source}") from None
            if not isinstance(target, str) or not target:
                raise _Failed(f"poll url pointer {poll.url!r} in {source} is not a URL")
        else:

            def fill(match: re.Match[str]) -> str:
                value = created.get(match[1], _NOT_FOUND) if isinstance(created, Mapping) else _NOT_FOUND
                if value is _NOT_FOUND or value is None:
                    raise _Failed(f"poll url placeholder {match[0]} has no field {match[1]!r} in {source}")
                # Quoted so that a value cannot reach into the path or the query of the URL.
                return quote(_text(value), safe="")

            target = _PLACEHOLDER.sub(fill, poll.url)
        try:
            return str(response.request.url.join(target))
        except httpx.InvalidURL as exc:
            raise _Failed(f"invalid poll url {target!r}: {exc}") from None

    async def _request(self, method: str, url: str, *, content: bytes | None = None) -> httpx.Response:
        timeout = self._call.timeout.total_seconds()
        headers = self._headers
        if content is not None and "Content-Type" not in headers:
            headers = headers.copy()
            headers["Content-Type"] = "application/json"
        try:
            response = await self._client.request(
                method, url, content=content, headers=headers, timeout=httpx.Timeout(timeout)
            )
        except httpx.TimeoutException:
            self._log.line(f"{self._elapsed()} {method} {url} timed out")
            raise _Failed(f"request timed out after {describe_duration(self._call.timeout)}: {method} {url}") from None
        except httpx.ConnectError as exc:
            self._log.line(f"{self._elapsed()} {method} {url} failed: {exc}")
            raise _Failed(f"cannot connect to {url}: {_reason(exc)}") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            self._log.line(f"{self._elapsed()} {method} {url} failed: {exc}")
            raise _Failed(f"{method} {url} failed: {_reason(exc)}") from None
        self._log.line(f"{self._elapsed()} {method} {url} -> HTTP {response.status_code}")
        if not response.is_success:
            body = excerpt(response.text)
            self._log.line(f"response: {body}")
            raise _Failed(f"HTTP {response.status_code} from {method} {url}" + (f": {body}" if body else ""))
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            request = response.request
            kind = response.headers.get("Content-Type", "no content type")
            body = excerpt(response.text, 80)
            raise _Failed(
                f"expected a JSON response from {request.method} {request.url}, got {kind}"
                + (f": {body}" if body else "")
            ) from None

    def _elapsed(self) -> str:
        return f"[+{asyncio.get_running_loop().time() - self._started:.1f}s]"


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
