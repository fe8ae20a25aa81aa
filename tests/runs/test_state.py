"""Run views folded from ledger records: where a task ran (issue 13's `worker` on `task.started`)."""

from __future__ import annotations

from typing import Any

from orchrecon.runs.state import RunStatus, StepStatus, fold

RUN = "20260327-041500-dddddd"
WORKER = "tcp://10.0.0.5:39211"


def records(**started: Any) -> list[dict[str, Any]]:
    """A one-phase run of tasks `remote` and `local`; `started` is extra fields of `remote`'s task.started."""
    common = {"run": RUN, "orchestration": "daily"}
    tasks = [
        {"name": name, "config": f"ex/{name}", "enabled": True, "selected": True, "continueOnFailure": False}
        for name in ("remote", "local")
    ]
    phases = [{"name": "main", "tasks": tasks}]
    return [
        {**common, "type": "run.requested", "seq": 1, "time": "2026-03-27T04:15:00.000Z", "phases": phases},
        {**common, "type": "run.started", "time": "2026-03-27T04:15:01.000Z"},
        *(
            {**common, "type": "task.started", "time": "2026-03-27T04:15:02.000Z", "phase": "main", "task": name}
            | extra
            for name, extra in (("remote", started), ("local", {}))
        ),
    ]


def test_a_task_keeps_the_worker_its_start_names_and_a_local_one_has_none() -> None:
    view = fold(records(worker=WORKER))[RUN]
    assert [(t.name, t.status, t.worker) for t in view.phases[0].tasks] == [
        ("remote", StepStatus.PROCESSING, WORKER),
        ("local", StepStatus.PROCESSING, None),
    ]


def test_the_worker_stays_once_the_task_and_the_run_have_ended() -> None:
    ended = [
        {"run": RUN, "type": "task.finished", "time": "2026-03-27T04:16:00.000Z", "task": "remote", "status": "error"},
        {"run": RUN, "type": "run.finished", "time": "2026-03-27T04:16:01.000Z", "status": "terminated"},
    ]
    view = fold([*records(worker=WORKER), *ended])[RUN]
    assert view.status is RunStatus.TERMINATED
    assert [(t.name, t.status, t.worker) for t in view.phases[0].tasks] == [
        ("remote", StepStatus.ERROR, WORKER),
        ("local", StepStatus.TERMINATED, None),
    ]


def test_the_json_of_a_task_has_its_worker_or_null_as_every_optional_field() -> None:
    (phase,) = fold(records(worker=WORKER))[RUN].to_json()["phases"]
    assert [(t["name"], t["worker"], t["exitCode"]) for t in phase["tasks"]] == [
        ("remote", WORKER, None),
        ("local", None, None),
    ]
