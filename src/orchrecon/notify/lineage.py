"""OpenLineage events for every task attempt, through openlineage-python (`orchrecon[openlineage]`).

Each attempt emits a `START` RunEvent when it starts and a `COMPLETE`, `FAIL` or `ABORT` one when it ends: the
job is `<orchestration>.<task>` in the namespace, its run a UUID made from the orchestration run's id and the
task's name (the same attempt always gets the same id), with a parent run facet naming the orchestration's run,
the configuration's `outputs` as output datasets, the run's git revision in a source-code-location facet and, on
failure, an error-message facet.

Emission never fails, blocks or slows a task: events go to a bounded queue that one thread delivers, with short
timeouts and no retries; a receiver that refuses or does not answer is logged once a minute and recorded in the
ledger (`lineage.undelivered`, with the receiver's scheme and host only, and how many events were dropped), and
what it did not take is dropped. At the end of the process, delivery gets CLOSE_SECONDS more, then stops.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from orchrecon import __version__

URL_VAR = "OPENLINEAGE_URL"  # the variable the OpenLineage clients read
NAMESPACE_VAR = "OPENLINEAGE_NAMESPACE"
ENDPOINT_VAR = "OPENLINEAGE_ENDPOINT"
DEFAULT_NAMESPACE = "orchrecon"
PRODUCER = f"https://github.com/orchrecon/orchrecon/tree/{__version__}"
REQUEST_SECONDS = 1.0  # each delivery: a catalogue that takes longer is treated as down
CLOSE_SECONDS = 0.5  # what the end of a process waits for the events still queued
QUEUE_SIZE = 10_000
REPORT_SECONDS = 60.0  # a failing receiver is logged (and recorded) at most once a minute
_IDS = uuid.UUID("6f1d7c0e-5a51-4f0b-9d3e-0c1e2a7b8f42")  # orchrecon's namespace for run UUIDs


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One task attempt, as the events describe it."""

    run_id: str  # the orchestration run's id
    orchestration: str
    task: str
    outputs: Sequence[str]
    inputs: Sequence[str]
    revision: str | None


class Lineage:
    """Builds the events and hands them to `deliver` (in a thread of its own: see the module docstring)."""

    def __init__(
        self,
        transport: Any,
        *,
        receiver: str,
        source: str,
        namespace: str = DEFAULT_NAMESPACE,
        record: Callable[[Mapping[str, Any]], None] | None = None,
        err: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._receiver = receiver  # scheme and host, or the file: never a path or query that could be a secret
        self._namespace = namespace
        self._source = source  # the repository the definitions come from: its remote's URL, or its folder
        self._record = record
        self._err = err or sys.stderr
        self._clock = clock
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_SIZE)
        self._dropped = 0
        self._closed = False
        self._reported_at: float | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._deliver, name="orchrecon-openlineage", daemon=True)
        self._thread.start()

    def started(self, attempt: Attempt, at: str) -> None:
        self._emit("START", attempt, at)

    def ended(self, attempt: Attempt, at: str, status: str, error: str | None = None) -> None:
        """`status` is the task's: success, error (or not-executed) and terminated give COMPLETE, FAIL, ABORT."""
        state = {"success": "COMPLETE", "terminated": "ABORT"}.get(status, "FAIL")
        self._emit(state, attempt, at, error=error if state != "COMPLETE" else None)

    def close(self) -> None:
        """Give the events still queued CLOSE_SECONDS to go, then stop (what is left is dropped, and said). The
        command closes it before its ledger; at exit (atexit) again, which then does nothing."""
        if self._closed:
            return
        self._closed = True
        deadline = self._clock() + CLOSE_SECONDS
        while self._queue.unfinished_tasks and self._clock() < deadline:
            time.sleep(0.01)
        left = self._queue.unfinished_tasks
        if left:
            self._failed(f"{left} event(s) still queued at exit", left, force=True)
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)

    def _emit(self, state: str, attempt: Attempt, at: str, *, error: str | None = None) -> None:
        try:
            event = self._event(state, attempt, at, error)
        except Exception as exc:
            self._failed(f"cannot build the event: {type(exc).__name__}: {exc}", 1)
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._failed("its queue is full", 1)

    def _event(self, state: str, attempt: Attempt, at: str, error: str | None) -> Any:
        from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState  # noqa: PLC0415
        from openlineage.client.facet_v2 import (  # noqa: PLC0415
            error_message_run,
            job_type_job,
            parent_run,
            source_code_location_job,
        )

        run_facets: dict[str, Any] = {
            "parent": parent_run.ParentRunFacet(
                run=parent_run.Run(runId=str(run_uuid(attempt.run_id))),
                job=parent_run.Job(namespace=self._namespace, name=attempt.orchestration),
                root=parent_run.Root(
                    run=parent_run.RootRun(runId=str(run_uuid(attempt.run_id))),
                    job=parent_run.RootJob(namespace=self._namespace, name=attempt.orchestration),
                ),
            )
        }
        if error is not None:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="unknown"
            )
        job_facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="ORCHRECON", jobType="TASK")
        }
        if attempt.revision:
            job_facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
                type="git", url=self._source, repoUrl=self._source, version=attempt.revision
            )
        return RunEvent(
            eventType=getattr(RunState, state),
            eventTime=at,
            run=Run(runId=str(task_uuid(attempt.run_id, attempt.task)), facets=run_facets),
            job=Job(namespace=self._namespace, name=f"{attempt.orchestration}.{attempt.task}", facets=job_facets),
            inputs=[InputDataset(namespace=self._namespace, name=t) for t in attempt.inputs],
            outputs=[OutputDataset(namespace=self._namespace, name=t) for t in attempt.outputs],
            producer=PRODUCER,
        )

    def _deliver(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self._transport.emit(event)
            except Exception as exc:
                self._failed(_reason(exc), 1)
            finally:
                self._queue.task_done()

    def _failed(self, why: str, dropped: int, *, force: bool = False) -> None:
        """Count what was dropped; at most once a minute (and at the end), say so and record it."""
        with self._lock:
            self._dropped += dropped
            now = self._clock()
            if not force and self._reported_at is not None and now - self._reported_at < REPORT_SECONDS:
                return
            self._reported_at, dropped_so_far = now, self._dropped
        self._err.write(
            f"orchrecon: warning: openlineage: {self._receiver} did not take an event ({why}); {dropped_so_far}"
            " dropped so far, the tasks go on (said again at most once a minute)\n"
        )
        if self._record is not None:
            with contextlib.suppress(Exception):
                self._record({"receiver": self._receiver, "error": why, "dropped": dropped_so_far})


def run_uuid(run_id: str) -> uuid.UUID:
    """The orchestration run's OpenLineage run id (the same for every event of the run)."""
    return uuid.uuid5(_IDS, run_id)


def task_uuid(run_id: str, task: str) -> uuid.UUID:
    return uuid.uuid5(_IDS, f"{run_id}/{task}")


def _reason(exc: BaseException) -> str:
    """Why a delivery failed, in a few words (the HTTP client's own messages run to several lines of repr)."""
    import requests  # noqa: PLC0415 - openlineage-python's HTTP transport is built on it, so it is loaded by now

    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return f"no answer within {REQUEST_SECONDS:g}s"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "cannot connect"
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, requests.exceptions.RequestException):
        return type(exc).__name__  # its message names the full URL, which may hold a key
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _check(url: str) -> None:
    """Raise ValueError, never naming the URL (its path or query may be a key), unless it is http(s) with a host."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is no number raises here
    except ValueError:
        raise ValueError(f"{URL_VAR} / --openlineage-url is not a URL (its port?)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{URL_VAR} / --openlineage-url is not an http:// or https:// URL with a host")


def shown(url: str) -> str:
    """A receiver's URL as messages and the ledger show it: scheme and host (its path or query may be a key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}" if parts.hostname else "?"


def open_lineage(
    *,
    url: str | None,
    file: Path | None,
    source: str,
    environ: Mapping[str, str],
    record: Callable[[Mapping[str, Any]], None] | None = None,
) -> Lineage | None:
    """The emitter for `--openlineage-url` (else OPENLINEAGE_URL) or `--openlineage-file`; None when neither is
    given. openlineage-python is imported only then (ImportError: see the caller)."""
    url = url or environ.get(URL_VAR) or None
    if url is None and file is None:
        return None
    namespace = environ.get(NAMESPACE_VAR) or DEFAULT_NAMESPACE
    if file is not None:
        from openlineage.client.transport.file import FileConfig, FileTransport  # noqa: PLC0415

        transport: Any = FileTransport(FileConfig(log_file_path=str(file), append=True))
        return Lineage(transport, receiver=str(file), source=source, namespace=namespace, record=record)
    assert url is not None
    _check(url)
    from openlineage.client.transport.http import HttpConfig, HttpTransport  # noqa: PLC0415

    # As the OpenLineage clients: the URL is the receiver's base, OPENLINEAGE_ENDPOINT the path under it.
    endpoint = environ.get(ENDPOINT_VAR) or "api/v1/lineage"
    retry = {"total": 0, "read": 0, "connect": 0, "status_forcelist": [], "allowed_methods": ["POST"]}
    config = HttpConfig(url=url, endpoint=endpoint, timeout=REQUEST_SECONDS, retry=retry)
    return Lineage(HttpTransport(config), receiver=shown(url), source=source, namespace=namespace, record=record)
