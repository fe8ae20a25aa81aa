"""Run a configuration's `run.keboola`: a job of a Keboola component configuration, through Keboola's Job Queue
API (`POST /jobs`, `GET /jobs/{id}`, `POST /jobs/{id}/kill`), with the Storage API token in
`X-StorageApi-Token`.

The job is polled until it reaches a finished status. `success` is success; `warning` too (Keboola's warning
means the job finished but a child failed; orchrecon's tasks have no warning state), kept in the record's
details as `run.http` does; `error`, `cancelled` and `terminated` are errors. A job waiting on Keboola's own
configuration lock stays `waiting`, and the task waits with it (its timeout counts). When the orchrecon task is
cancelled or times out, the job is killed, so nothing keeps running in the project unseen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from orchrecon.documents.model import FromEnv, KeboolaJob
from orchrecon.executors import MissingSecretError, Outcome, TaskJob, TaskResult
from orchrecon.executors.environment import Redactor, resolve_env, to_json
from orchrecon.executors.results import describe_duration, excerpt, failure
from orchrecon.executors.tasklog import TaskLog

ClientFactory = Callable[[], httpx.AsyncClient]
TOKEN_HEADER = "X-StorageApi-Token"
FINISHED = frozenset({"success", "warning", "error", "cancelled", "terminated"})
REQUEST_TIMEOUT_SECONDS = 30.0
POLL_ATTEMPTS = 3  # polls in a row that fail before the task does
KILL_TIMEOUT_SECONDS = 10.0  # a kill is asked for on the way out: it must not hold the task's end for long


class _Failed(Exception):
    """The task failed; the message is the one line for people (redacted before it leaves the executor)."""


class _Transient(_Failed):
    """A request that may well succeed if made again: no answer, or a 5xx or 429 one."""


class KeboolaExecutor:
    """Runs `config.run.keboola` jobs; `client_factory` builds the httpx client for one task."""

    def __init__(self, *, client_factory: ClientFactory = httpx.AsyncClient) -> None:
        self._client_factory = client_factory

    async def run(self, job: TaskJob) -> TaskResult:
        spec = job.config.run.keboola
        if spec is None:
            return failure(f"configuration {job.config.ref} has no run.keboola")
        try:
            token = resolve_env({"token": spec.token}, job.environ)["token"]
        except MissingSecretError as exc:
            with TaskLog(job.log_path, Redactor([])) as log:
                log.line(f"Storage API token: {exc}")
            return failure(f"Storage API token: {exc}")
        if not token or not token.isascii() or not token.isprintable() or token != token.strip():
            # httpx would refuse it as a header value, quoting it in the error: say so without it
            where = spec.token.var if isinstance(spec.token, FromEnv) else "the value"
            problem = f"Storage API token: {where} holds"
            problem += " whitespace, control or non-ASCII characters (or nothing): a token never does"
            with TaskLog(job.log_path, Redactor([token])) as log:
                log.line(problem)
            return failure(problem)
        redactor = Redactor([token, job.token])
        with TaskLog(job.log_path, redactor) as log:
            limit = job.config.run.timeout
            session = _Session(spec, token, log)
            async with self._client_factory() as client:
                session.client = client
                try:
                    async with asyncio.timeout(limit.total_seconds()):
                        result = await session.run(job)
                except TimeoutError:
                    await session.kill("the task timed out")
                    result = failure(f"timed out after {describe_duration(limit)}", **session.details())
                except asyncio.CancelledError:
                    await session.kill("the task was cancelled")
                    raise
                except _Failed as exc:
                    await session.kill("the task failed")  # a job it can no longer follow is not left running
                    result = failure(redactor.text(str(exc)), **session.details())
            log.line(f"result: {result.outcome.value}" + (f": {result.error}" if result.error else ""))
            return failure(log.fault.reason) if log.fault is not None else result


class _Session:
    """One job: created, polled to its end, killed if the task ends first."""

    def __init__(self, spec: KeboolaJob, token: str, log: TaskLog) -> None:
        self._spec, self._log = spec, log
        self._base = spec.url.rstrip("/")
        self._headers = {TOKEN_HEADER: token, "Accept": "application/json"}
        self.client: httpx.AsyncClient | None = None
        self._job_id: str | None = None
        self._job_url: str | None = None
        self._status: str | None = None
        self._message: object = None  # the finished job's result.message
        self._started = asyncio.get_running_loop().time()

    def details(self) -> dict[str, Any]:
        """What the task's record says of the job (nothing before it exists)."""
        found: dict[str, Any] = {}
        if self._job_id is not None:
            found["keboolaJobId"] = self._job_id
        if self._job_url is not None:
            found["keboolaJobUrl"] = self._job_url
        if self._status is not None:
            found["status"] = self._status
        return found

    async def run(self, job: TaskJob) -> TaskResult:
        spec = self._spec
        body: dict[str, Any] = {"component": spec.component, "config": spec.config, "mode": spec.mode}
        if spec.config_row_ids:
            body["configRowIds"] = list(spec.config_row_ids)
        if spec.branch_id is not None:
            body["branchId"] = spec.branch_id
        if spec.send_parameters:
            body["configData"] = {"parameters": job.parameters}
        created = await self._request("POST", f"{self._base}/jobs", content=to_json(body).encode())
        self._job_id = str(created.get("id")) if created.get("id") is not None else None
        if self._job_id is None:
            raise _Failed(f"POST {self._base}/jobs answered without a job id")
        self._job_url = str(created.get("url") or f"{self._base}/jobs/{self._job_id}")
        job.notes.update(keboolaJobId=self._job_id, keboolaJobUrl=self._job_url)  # recorded even if cancelled
        self._log.line(f"{self._elapsed()} created Keboola job {self._job_id}: {self._job_url}")
        self._seen(created)
        failures = 0
        while self._status not in FINISHED:
            await asyncio.sleep(spec.poll_interval.total_seconds())
            try:
                answer = await self._request("GET", f"{self._base}/jobs/{self._job_id}")
            except _Transient as exc:  # the job goes on in Keboola: a blip of the API does not end the task
                failures += 1
                if failures >= POLL_ATTEMPTS:
                    raise _Failed(f"{exc} ({failures} polls in a row)") from None
                continue
            failures = 0
            self._seen(answer)
        return self._result()

    def _seen(self, answer: Mapping[str, Any]) -> None:
        status = answer.get("status")
        if not isinstance(status, str):
            raise _Failed(f"Keboola job {self._job_id}: the Job Queue API answered without a status")
        if status != self._status:  # only the changes: a job that waits an hour does not fill the log
            self._log.line(f"{self._elapsed()} job {self._job_id} is {status}")
            self._status = status
        result = answer.get("result")
        self._message = result.get("message") if isinstance(result, Mapping) else None

    def _result(self) -> TaskResult:
        status, details = self._status, self.details()
        if status == "success":
            return TaskResult(outcome=Outcome.SUCCESS, details=details)
        if status == "warning":
            return TaskResult(outcome=Outcome.SUCCESS, details={**details, "warning": True})
        message = f": {excerpt(str(self._message))}" if self._message else ""
        return failure(f"Keboola job {self._job_id} ended {status}{message} ({self._job_url})", **details)

    async def kill(self, why: str) -> None:
        """Ask Keboola to stop the job (`terminating`, then `terminated`; `cancelled` if it had not started)."""
        if self._job_id is None or self._status in FINISHED or self.client is None:
            return
        url = f"{self._base}/jobs/{self._job_id}/kill"
        try:
            response = await asyncio.shield(
                self.client.post(url, headers=self._headers, timeout=httpx.Timeout(KILL_TIMEOUT_SECONDS))
            )
        except httpx.HTTPError as exc:
            self._log.line(f"{self._elapsed()} {why}; POST {url} failed: {exc}; the job may still run in Keboola")
            return
        self._log.line(f"{self._elapsed()} {why}; POST {url} -> HTTP {response.status_code}")

    async def _request(self, method: str, url: str, *, content: bytes | None = None) -> Mapping[str, Any]:
        assert self.client is not None
        headers = {**self._headers, **({"Content-Type": "application/json"} if content is not None else {})}
        try:
            response = await self.client.request(
                method, url, content=content, headers=headers, timeout=httpx.Timeout(REQUEST_TIMEOUT_SECONDS)
            )
        except httpx.TimeoutException:
            self._log.line(f"{self._elapsed()} {method} {url} timed out")
            raise _Transient(f"{method} {url} timed out after {REQUEST_TIMEOUT_SECONDS:g}s") from None
        except httpx.InvalidURL as exc:
            raise _Failed(f"invalid Keboola Job Queue URL {url}: {exc}") from None
        except httpx.HTTPError as exc:
            self._log.line(f"{self._elapsed()} {method} {url} failed: {exc}")
            raise _Transient(f"cannot reach the Keboola Job Queue API at {url}: {exc or type(exc).__name__}") from None
        if not response.is_success:
            reason = _error_of(response)
            code = response.status_code
            self._log.line(f"{self._elapsed()} {method} {url} -> HTTP {code}: {reason}")
            if code == 401:
                raise _Failed(
                    f"Keboola refused the Storage API token (HTTP 401 from {method} {url}: {reason}); check the"
                    " variable the configuration's run.keboola.token names"
                )
            kind = _Transient if code >= 500 or code == 429 else _Failed
            raise kind(f"HTTP {code} from {method} {url}: {reason}")
        try:
            answer = response.json()
        except ValueError:
            raise _Failed(f"expected a JSON job from {method} {url}, got: {excerpt(response.text, 80)}") from None
        if not isinstance(answer, Mapping):
            raise _Failed(f"expected a JSON job from {method} {url}, got: {excerpt(response.text, 80)}")
        return answer

    def _elapsed(self) -> str:
        return f"[+{asyncio.get_running_loop().time() - self._started:.1f}s]"


def _error_of(response: httpx.Response) -> str:
    """The message of a Job Queue API error body (`{"error": …, "code": …, "exceptionId": …}`), or an excerpt."""
    try:
        body = response.json()
    except ValueError:
        return excerpt(response.text) or "(no body)"
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        exception = body.get("exceptionId")
        return excerpt(body["error"]) + (f" (exceptionId {exception})" if isinstance(exception, str) else "")
    return excerpt(response.text)
