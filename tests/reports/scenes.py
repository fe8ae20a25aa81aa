"""Inputs for the pure report renderers, every time and id given: an orchestration with a failed run, a
run that ended `warning` through a continue-on-failure task, a retry of the failed one, and a run with
tasks on Dask workers."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from orchrecon.clock import format_time
from orchrecon.documents.validation import validate_files
from orchrecon.reconcile import desired as desired_state
from orchrecon.reconcile.desired import Desired
from orchrecon.reconcile.status import orchestration_status
from orchrecon.reports.orchestration import ReportFacts
from orchrecon.runs.definition import phases_field, select
from orchrecon.runs.state import RunStatus, RunView, fold
from orchrecon.scheduling.triggers import TriggerView, evaluate
from orchrecon.store.runstore import RunSummary

REVISION = "0123456789abcdef0123456789abcdef01234567"
NOW = datetime(2026, 3, 27, 4, 30, tzinfo=UTC)  # Friday; Prague moves to summer time on Sunday

CONFIG = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {{component: ex, name: {name}}}
spec:
  run: {{command: [python, -c, "print(1)"]}}
"""
SALES = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: daily-sales, description: Daily sales mart}
spec:
  phases:
    - name: extract
      tasks:
        - {name: shop-orders, config: ex/orders}
        - {name: "adform-campaigns", config: ex/campaigns, continueOnFailure: true, parameters: {days: 3}}
        - {name: crm-customers, config: ex/orders, enabled: false}
    - name: transform
      tasks: [{name: sales-mart, config: ex/mart}]
  schedules: [{cron: "30 2 * * *", timezone: Europe/Prague}]
  trigger: {tables: [in.c-shop.orders, in.c-crm.customers], cooldown: 50m}
"""
BROKEN = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: broken}
spec:
  phases:
    - name: main
      tasks: [{name: one, config: ex/missing}]
"""
QUIET = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: quiet}
spec:
  suspend: true
  phases: [{name: main, tasks: [{name: one, config: ex/mart}]}]
"""


def desired() -> dict[str, Desired]:
    files = {f"configurations/ex/{n}.yaml": CONFIG.format(name=n) for n in ("orders", "campaigns", "mart")}
    files |= {"orchestrations/daily-sales.yaml": SALES, "orchestrations/broken.yaml": BROKEN}
    files["orchestrations/quiet.yaml"] = QUIET
    return desired_state.reconcile({}, validate_files({k: v.encode() for k, v in files.items()}), REVISION)


def at(minutes: float) -> str:
    return format_time(NOW - timedelta(minutes=minutes))


Step = tuple[str, str, str, float, float, int | None, str | None]  # phase, task, status, start, end, exit, error


def run_records(
    run: str,
    seq: int,
    start: float,
    steps: Sequence[Step],
    status: str,
    *,
    workers: Mapping[str, str] | None = None,
    **extra: Any,
) -> list[dict[str, Any]]:
    """The ledger records of one finished run of daily-sales; times are minutes before NOW. `workers` gives
    the Dask worker each of some tasks ran on (its `task.started` carries it); the others ran locally."""
    o = desired()["daily-sales"].applied
    assert o is not None
    selected = frozenset(extra.pop("selected", select(o.orchestration)))
    common = {"run": run, "orchestration": "daily-sales"}
    records: list[dict[str, Any]] = [
        {
            **common,
            "type": "run.requested",
            "seq": seq,
            "time": at(start + 1),
            "revision": REVISION,
            "phases": phases_field(o.orchestration, selected),
            **extra,
        },
        {**common, "type": "run.started", "seq": seq + 1, "time": at(start)},
    ]
    continues = {t.name: t.continue_on_failure for p in o.orchestration.phases for t in p.tasks}
    for phase, group in itertools.groupby(steps, key=lambda s: s[0]):
        ran = list(group)
        records.append({**common, "type": "phase.started", "time": at(max(s[3] for s in ran)), "phase": phase})
        for _, name, task_status, begin, end, code, error in ran:
            worker = {"worker": workers[name]} if workers and name in workers else {}
            started = {"type": "task.started", "time": at(begin), "phase": phase, "task": name, **worker}
            records.append({**common, **started})
            records.append(
                {
                    **common,
                    "type": "task.finished",
                    "time": at(end),
                    "task": name,
                    "status": task_status,
                    "exitCode": code,
                    "error": error,
                }
            )
        failed = [s[1] for s in ran if s[2] == "error"]
        phase_status = "error" if any(not continues[f] for f in failed) else "warning" if failed else "success"
        ended = {"type": "phase.finished", "time": at(min(s[4] for s in ran)), "phase": phase, "status": phase_status}
        records.append({**common, **ended})
    end = min(s[4] for s in steps)
    records.append({**common, "type": "run.finished", "time": at(end), "status": status})
    return records


FAILED = run_records(
    "20260327-020000-aaaaaa",
    10,
    150,
    [
        ("extract", "shop-orders", "success", 150, 148.5, 0, None),
        ("extract", "adform-campaigns", "success", 150, 147, 0, None),
        ("transform", "sales-mart", "error", 147, 140, 2, "exited with code 2: relation sales does not exist"),
    ],
    "error",
    trigger="schedule",
)
WARNED = run_records(
    "20260327-031000-bbbbbb",
    30,
    80,
    [
        ("extract", "shop-orders", "success", 80, 79, 0, None),
        ("extract", "adform-campaigns", "error", 80, 78, 1, "exited with code 1: HTTP 503 from the Adform API"),
        ("transform", "sales-mart", "success", 78, 75, 0, None),
    ],
    "warning",
    trigger="trigger",
)
RETRIED = run_records(
    "20260327-040000-cccccc",
    50,
    30,
    [("transform", "sales-mart", "success", 30, 20, 0, None)],
    "success",
    trigger="retry",
    by="ana@example.com",
    retryOf="20260327-020000-aaaaaa",
    selected={"sales-mart"},
)


ON_DASK = run_records(
    "20260327-041500-dddddd",
    70,
    15,
    [
        ("extract", "shop-orders", "success", 15, 14, 0, None),
        ("extract", "adform-campaigns", "error", 15, 13, 1, "exited with code 1: HTTP 503 from the Adform API"),
        ("transform", "sales-mart", "success", 13, 10, 0, None),
    ],
    "warning",
    by="ana@example.com",
    workers={"shop-orders": "tcp://10.0.0.5:39211", "sales-mart": "tcp://10.0.0.7:40533"},
)


def views(*runs: Sequence[dict[str, Any]]) -> dict[str, RunView]:
    """The views of `runs` (default: the failed, the warned and the retried run)."""
    return fold(itertools.chain.from_iterable(runs or (FAILED, WARNED, RETRIED)))


def summaries(of: Mapping[str, RunView] | None = None) -> list[RunSummary]:
    out = []
    for v in sorted((views() if of is None else of).values(), key=lambda v: -v.requested_seq):
        out.append(
            RunSummary(
                id=v.id,
                orchestration=v.orchestration,
                seq=v.requested_seq,
                status=v.status,
                trigger=v.trigger,
                requested_at=v.requested_at,
                started_at=v.started_at,
                finished_at=v.finished_at,
                by=v.by,
                retry_of=v.retry_of,
            )
        )
    return out


DECISIONS: list[dict[str, Any]] = [
    {
        "type": "trigger.suppressed",
        "time": at(5),
        "orchestration": "daily-sales",
        "reason": "waiting",
        "waitingFor": ["in.c-crm.customers"],
        "tables": {"in.c-shop.orders": at(5), "in.c-crm.customers": None},
    },
    {
        "type": "trigger.fired",
        "time": at(81),
        "orchestration": "daily-sales",
        "run": "20260327-031000-bbbbbb",
        "tables": {"in.c-shop.orders": at(82), "in.c-crm.customers": at(83)},
    },
    {
        "type": "schedule.fired",
        "time": at(150),
        "orchestration": "daily-sales",
        "cron": "30 2 * * *",
        "timezone": "Europe/Prague",
        "slot": "2026-03-27T01:30:00Z",
    },
    {
        "type": "schedule.missed",
        "time": at(151),
        "orchestration": "daily-sales",
        "cron": "30 2 * * *",
        "timezone": "Europe/Prague",
        "slot": "2026-03-26T01:30:00Z",
        "caughtUp": False,
        "alsoMissed": 2,
    },
]


def statuses() -> dict[str, dict[str, Any]]:
    d = desired()
    sales = d["daily-sales"].applied
    assert sales is not None
    assert sales.orchestration.trigger is not None
    view = TriggerView(
        armed_at=NOW - timedelta(days=2),
        last_run_start=NOW - timedelta(minutes=30),
        updates={"in.c-shop.orders": NOW - timedelta(minutes=5)},
    )
    trigger = evaluate(sales.orchestration.trigger, view, NOW - timedelta(minutes=5))
    out = {
        "daily-sales": orchestration_status(
            d["daily-sales"], now=NOW, trigger=trigger, trigger_armed=format_time(view.armed_at), runs=summaries()
        )
    }
    for name in ("broken", "quiet"):
        out[name] = orchestration_status(
            d[name], now=NOW - timedelta(hours=1), trigger=None, trigger_armed=None, runs=[]
        )
    return out


def facts() -> ReportFacts:
    latest = views()["20260327-040000-cccccc"]
    assert latest.status is RunStatus.SUCCESS
    return ReportFacts(
        status=statuses()["daily-sales"],
        definition=desired()["daily-sales"].applied.orchestration,  # type: ignore[union-attr]
        definition_from="applied revision 0123456789ab",
        runs=summaries(),
        latest=latest,
        logs={"sales-mart": ["building sales", "```", "done: 1,204 rows"]},
        decisions=DECISIONS,
    )


def dask_facts() -> ReportFacts:
    """The report when the latest run had two of its tasks on Dask workers, one locally, one disabled."""
    runs = views(FAILED, WARNED, RETRIED, ON_DASK)
    return ReportFacts(
        status=statuses()["daily-sales"],
        definition=desired()["daily-sales"].applied.orchestration,  # type: ignore[union-attr]
        definition_from="applied revision 0123456789ab",
        runs=summaries(runs),
        latest=runs["20260327-041500-dddddd"],
    )


def failed_facts() -> ReportFacts:
    """The report as it was when the failed run was the latest one."""
    return ReportFacts(
        status=statuses()["daily-sales"],
        definition=desired()["daily-sales"].applied.orchestration,  # type: ignore[union-attr]
        definition_from="applied revision 0123456789ab",
        runs=summaries()[2:],
        latest=views()["20260327-020000-aaaaaa"],
        logs={"sales-mart": ["ERROR: relation sales does not exist"]},
    )
