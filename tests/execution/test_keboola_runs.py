"""`orchrecon run` of an orchestration whose task is a Keboola job, against the local Job Queue server: the job's
id and URL in the task's record, `orchrecon cancel` killing the job, and the Storage API token nowhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.execution.builders import Workspace, statuses, task, wait_until
from tests.executors.keboola_queue import STORAGE_TOKEN, JobQueue, job_queue

ENV = {"KBC_STORAGE_TOKEN": STORAGE_TOKEN}


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    with job_queue() as fake:
        yield fake


def _keboola(ws: Workspace, queue: JobQueue, ref: str, config: str) -> None:
    component, name = ref.split("/")
    run: dict[str, Any] = {
        "keboola": {
            "component": "keboola.ex-db-snowflake",
            "config": config,
            "url": queue.base,
            "token": {"fromEnv": "KBC_STORAGE_TOKEN"},
            "pollInterval": "1s",
        }
    }
    ws.write(
        f"configurations/{component}/{name}.yaml",
        {
            "apiVersion": "orchrecon/v1",
            "kind": "Configuration",
            "metadata": {"component": component, "name": name},
            "spec": {"run": run, "outputs": ["in.c-kbc.orders"]},
        },
    )


def _finished(ws: Workspace, name: str) -> dict[str, Any]:
    return next(r for r in ws.ledger() if r["type"] == "task.finished" and r["task"] == name)


def test_a_keboola_task_records_its_job_and_updates_its_outputs(ws: Workspace, queue: JobQueue) -> None:
    queue.scripts["42"] = ["processing", "success"]
    _keboola(ws, queue, "kbc/orders", "42")
    ws.orchestrate("daily", {"extract": [task("orders", "kbc/orders")]})
    done = ws.finish(ws.start("run", "daily", env=ENV), timeout=30)
    assert done.code == 0, done.err
    finished = _finished(ws, "orders")
    assert finished["status"] == "success"
    assert finished["details"] == {
        "keboolaJobId": "1000",
        "keboolaJobUrl": f"{queue.base}/jobs/1000",
        "status": "success",
    }
    assert any(r["type"] == "table.updated" and r["table"] == "in.c-kbc.orders" for r in ws.ledger())
    assert STORAGE_TOKEN.encode() not in ws.ledger_bytes()
    log = (ws.state / "logs").rglob("orders.log")
    assert all(STORAGE_TOKEN not in path.read_text() for path in log)


def test_cancelling_the_run_kills_the_keboola_job_and_the_task_ends_terminated(ws: Workspace, queue: JobQueue) -> None:
    queue.scripts["43"] = ["processing"] * 10_000
    _keboola(ws, queue, "kbc/long", "43")
    ws.orchestrate("daily", {"extract": [task("long", "kbc/long")]})
    process = ws.start("run", "daily", env=ENV)
    wait_until(queue.processing.is_set, 20, what="the Keboola job to be processing")
    run_id = ws.requested()[0]
    done = ws.orchrecon("cancel", run_id)
    assert done.code == 0, done.err
    assert ws.finish(process, timeout=30).code == 1
    assert queue.killed.is_set()
    assert queue.requests("POST", "/jobs/1000/kill")
    run = ws.show(run_id)
    assert statuses(run) == {"run": "terminated", "extract": "terminated", "long": "terminated"}
    finished = _finished(ws, "long")
    assert finished["status"] == "terminated"
    assert finished["details"] == {"keboolaJobId": "1000", "keboolaJobUrl": f"{queue.base}/jobs/1000"}


def test_a_refused_token_fails_the_task_in_one_line_and_is_nowhere(ws: Workspace, queue: JobQueue) -> None:
    _keboola(ws, queue, "kbc/orders", "42")
    ws.orchestrate("daily", {"extract": [task("orders", "kbc/orders")]})
    wrong = "9999-wrong-but-secret-token"
    done = ws.finish(ws.start("run", "daily", env={"KBC_STORAGE_TOKEN": wrong}), timeout=30)
    assert done.code == 1
    finished = _finished(ws, "orders")
    assert finished["status"] == "error"
    assert finished["error"].startswith("Keboola refused the Storage API token (HTTP 401 from POST")
    assert "\n" not in finished["error"]
    logs = "".join(p.read_text() for p in (ws.state / "logs").rglob("*.log"))
    everything = ws.ledger_bytes().decode() + logs + done.out + done.err
    assert wrong not in everything
    assert queue.jobs == {}
