"""Keboola component jobs as tasks, against a local server that follows the Job Queue API (keboola_queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from orchrecon.documents.model import FromEnv, KeboolaJob
from orchrecon.executors import Outcome, TaskJob, TaskResult
from orchrecon.executors.keboola import KeboolaExecutor
from tests.executors.jobs import TOKEN, configuration, task_job
from tests.executors.keboola_queue import STORAGE_TOKEN, JobQueue, job_queue

MS = timedelta(milliseconds=1)
WAIT = 15.0


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    with job_queue() as fake:
        yield fake


def keboola_job(
    root: Path,
    queue: JobQueue,
    *,
    config: str = "ok",
    token: str = STORAGE_TOKEN,
    send_parameters: bool = False,
    timeout: timedelta = timedelta(seconds=10),
    rows: tuple[str, ...] = (),
) -> TaskJob:
    spec = KeboolaJob(
        component="keboola.ex-db-snowflake",
        config=config,
        config_row_ids=rows,
        mode="run",
        branch_id=None,
        url=queue.base,
        token=FromEnv(var="KBC_STORAGE_TOKEN"),
        poll_interval=20 * MS,
        send_parameters=send_parameters,
    )
    return task_job(root, configuration(keboola=spec, timeout=timeout), environ={"KBC_STORAGE_TOKEN": token})


def run(job: TaskJob) -> TaskResult:
    return asyncio.run(KeboolaExecutor().run(job))


def assert_no_secret(job: TaskJob, result: TaskResult) -> None:
    for secret in (STORAGE_TOKEN, TOKEN):
        assert secret not in job.log_path.read_text()
        assert secret not in (result.error or "")
        assert secret not in str(result.details)


def test_a_successful_job_is_a_success_recording_its_id_and_url(tmp_path: Path, queue: JobQueue) -> None:
    job = keboola_job(tmp_path, queue, rows=("7", "8"))
    result = run(job)
    assert result.outcome is Outcome.SUCCESS
    assert result.details == {"keboolaJobId": "1000", "keboolaJobUrl": f"{queue.base}/jobs/1000", "status": "success"}
    (create,) = queue.requests("POST", "/jobs")
    assert create.headers["x-storageapi-token"] == STORAGE_TOKEN
    assert create.body == {
        "component": "keboola.ex-db-snowflake",
        "config": "ok",
        "mode": "run",
        "configRowIds": ["7", "8"],
    }
    log = job.log_path.read_text()
    assert [line.split("] ", 1)[1] for line in log.splitlines() if "job 1000 is" in line] == [
        "job 1000 is created",
        "job 1000 is waiting",
        "job 1000 is processing",
        "job 1000 is success",
    ]
    assert_no_secret(job, result)


def test_parameters_go_as_config_data_only_when_asked(tmp_path: Path, queue: JobQueue) -> None:
    run(keboola_job(tmp_path / "a", queue))
    run(keboola_job(tmp_path / "b", queue, send_parameters=True))
    first, second = (r.body for r in queue.requests("POST", "/jobs"))
    assert "configData" not in first
    assert second["configData"] == {"parameters": {"incremental": True, "days": 3}}


def test_a_warning_is_a_success_kept_in_the_details(tmp_path: Path, queue: JobQueue) -> None:
    queue.scripts["warns"] = ["processing", "warning"]
    result = run(keboola_job(tmp_path, queue, config="warns"))
    assert result.outcome is Outcome.SUCCESS
    assert result.details["warning"] is True
    assert result.details["status"] == "warning"


def test_an_error_is_an_error_with_the_jobs_message(tmp_path: Path, queue: JobQueue) -> None:
    queue.scripts["fails"] = ["processing", "error"]
    queue.messages["fails"] = "Table in.c-shop.orders not found"
    job = keboola_job(tmp_path, queue, config="fails")
    result = run(job)
    assert result.outcome is Outcome.ERROR
    assert result.error == f"Keboola job 1000 ended error: Table in.c-shop.orders not found ({queue.base}/jobs/1000)"
    assert result.details["keboolaJobId"] == "1000"
    assert_no_secret(job, result)


def test_a_job_waiting_on_its_configuration_lock_keeps_the_task_waiting(tmp_path: Path, queue: JobQueue) -> None:
    queue.locked.add("busy")
    queue.scripts["busy"] = ["waiting", "processing", "success"]
    job = keboola_job(tmp_path, queue, config="busy")

    async def scenario() -> TaskResult:
        task = asyncio.create_task(KeboolaExecutor().run(job))
        await asyncio.to_thread(_polled, queue, 5)  # five polls later it still waits
        assert not task.done()
        assert queue.jobs["1000"].status == "waiting"
        queue.locked.discard("busy")  # the other job of the configuration ended in Keboola
        return await asyncio.wait_for(task, WAIT)

    result = asyncio.run(scenario())
    assert result.outcome is Outcome.SUCCESS
    assert "job 1000 is processing" in job.log_path.read_text()


def test_a_cancelled_task_kills_its_job_which_ends_terminated(tmp_path: Path, queue: JobQueue) -> None:
    queue.scripts["long"] = ["processing"] * 10_000
    job = keboola_job(tmp_path, queue, config="long")

    async def scenario() -> None:
        task = asyncio.create_task(KeboolaExecutor().run(job))
        await asyncio.to_thread(queue.processing.wait, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert queue.killed.is_set()
    (kill,) = queue.requests("POST", "/jobs/1000/kill")
    assert kill.headers["x-storageapi-token"] == STORAGE_TOKEN
    assert queue.jobs["1000"].status == "terminating"  # Keboola stops it; the next poll would say terminated
    assert "the task was cancelled; POST" in job.log_path.read_text()


def test_a_timed_out_task_kills_its_job(tmp_path: Path, queue: JobQueue) -> None:
    queue.scripts["long"] = ["processing"] * 10_000
    job = keboola_job(tmp_path, queue, config="long", timeout=timedelta(milliseconds=300))
    result = run(job)
    assert result.outcome is Outcome.ERROR
    assert result.error == "timed out after 0.3s"
    assert result.details["keboolaJobId"] == "1000"
    assert queue.requests("POST", "/jobs/1000/kill")


def test_a_poll_or_two_answered_503_are_waited_out(tmp_path: Path, queue: JobQueue) -> None:
    queue.outages = 2
    job = keboola_job(tmp_path, queue)
    assert run(job).outcome is Outcome.SUCCESS
    assert job.log_path.read_text().count("HTTP 503: Service Unavailable") == 2


def test_three_failed_polls_in_a_row_fail_the_task_and_kill_the_job(tmp_path: Path, queue: JobQueue) -> None:
    queue.outages = 3
    result = run(keboola_job(tmp_path, queue))
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert result.error.startswith(f"HTTP 503 from GET {queue.base}/jobs/1000: Service Unavailable (exceptionId")
    assert result.error.endswith("(3 polls in a row)")
    assert queue.requests("POST", "/jobs/1000/kill")


def test_a_job_cancelled_in_keboola_is_an_error(tmp_path: Path, queue: JobQueue) -> None:
    queue.scripts["stopped"] = ["waiting", "cancelled"]
    result = run(keboola_job(tmp_path, queue, config="stopped"))
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert result.error.startswith("Keboola job 1000 ended cancelled")


def test_a_refused_token_is_one_clear_line_without_the_token(tmp_path: Path, queue: JobQueue) -> None:
    job = keboola_job(tmp_path, queue, token="9999-wrong-token-of-the-project")
    result = run(job)
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert result.error.startswith(
        f"Keboola refused the Storage API token (HTTP 401 from POST {queue.base}/jobs: Invalid access token"
    )
    assert "\n" not in result.error
    assert "9999-wrong-token-of-the-project" not in job.log_path.read_text() + result.error + str(result.details)
    assert queue.jobs == {}


def test_a_token_with_a_newline_is_refused_without_showing_it(tmp_path: Path, queue: JobQueue) -> None:
    job = keboola_job(tmp_path, queue, token=STORAGE_TOKEN + "\n")
    result = run(job)
    assert result.error == (
        "Storage API token: KBC_STORAGE_TOKEN holds whitespace, control or non-ASCII characters (or nothing):"
        " a token never does"
    )
    assert STORAGE_TOKEN not in job.log_path.read_text()
    assert queue.received == []


def test_a_missing_token_variable_is_an_error_without_any_request(tmp_path: Path, queue: JobQueue) -> None:
    job = keboola_job(tmp_path, queue)
    job = TaskJob(**{**job.__dict__, "environ": {}})
    result = run(job)
    assert result.error == "Storage API token: environment variable KBC_STORAGE_TOKEN is not set"
    assert queue.received == []


def test_an_unreachable_queue_is_a_one_line_error(tmp_path: Path) -> None:
    with job_queue() as gone:
        base = gone.base
    job = keboola_job(tmp_path, JobQueue(base=base))
    result = run(job)
    assert result.outcome is Outcome.ERROR
    assert result.error is not None
    assert result.error.startswith(f"cannot reach the Keboola Job Queue API at {base}/jobs")
    assert "\n" not in result.error


def _polled(queue: JobQueue, count: int) -> None:
    """Until the job was polled `count` times (or WAIT seconds passed)."""
    import time  # noqa: PLC0415

    deadline = time.monotonic() + WAIT
    while len(queue.requests("GET", "/jobs/1000")) < count:
        assert time.monotonic() < deadline, "the job was not polled"
        time.sleep(0.01)
