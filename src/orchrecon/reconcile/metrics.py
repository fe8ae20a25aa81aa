"""The reconciler's Prometheus metrics, from the ledger records it observes and its own passes.

One registry per reconciler (never prometheus-client's global one), so a test or a second reconciler in
one process counts only its own. Labels are bounded: orchestration names, statuses, events and channels;
never a run id, a recipient or a secret. Counters start at zero when the reconciler starts, as
Prometheus expects of a restarted process (its `rate()` handles the reset)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from orchrecon.store.ledger import Record
from orchrecon.store.runstore import RunSummary

# Task durations range from a `true` (milliseconds) to the 6 h default timeout.
TASK_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600)
PASS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ReconcilerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._runs = Counter(
            "orchrecon_runs", "Runs that ended, by orchestration and status", ["orchestration", "status"], registry=r
        )
        self._tasks = Histogram(
            "orchrecon_task_duration_seconds",
            "Durations of the tasks that ran",
            ["orchestration"],
            buckets=TASK_BUCKETS,
            registry=r,
        )
        self._waiting = Gauge("orchrecon_runs_waiting", "Runs requested and not started", registry=r)
        self._processing = Gauge("orchrecon_runs_processing", "Runs started and not finished", registry=r)
        self._passes = Counter("orchrecon_reconcile_passes", "Looks at the source, each applied", registry=r)
        self._pass_seconds = Histogram(
            "orchrecon_reconcile_duration_seconds",
            "How long a look at the source and applying what it found took",
            buckets=PASS_BUCKETS,
            registry=r,
        )
        self._invalid = Gauge(
            "orchrecon_validation_errors",
            "Validation errors of each orchestration's last attempted revision",
            ["orchestration"],
            registry=r,
        )
        self._reconciled = Gauge(
            "orchrecon_last_successful_reconcile_timestamp_seconds",
            "When the source was last looked at and applied successfully (Unix time)",
            registry=r,
        )
        self._notifications = Counter(
            "orchrecon_notifications",
            "Notification deliveries, by outcome (sent or failed)",
            ["orchestration", "event", "channel", "outcome"],
            registry=r,
        )

    def observe(self, record: Record, orchestration: str) -> None:
        """Count a ledger record the reconciler read; `orchestration` is the one it is about."""
        kind = record.get("type")
        if kind == "run.finished" and orchestration:
            self._runs.labels(orchestration, str(record.get("status"))).inc()
        elif kind == "task.finished" and orchestration and isinstance(record.get("durationMs"), int):
            self._tasks.labels(orchestration).observe(record["durationMs"] / 1000)
        elif kind in ("notification.sent", "notification.failed"):
            outcome = "sent" if kind == "notification.sent" else "failed"
            event, channel = str(record.get("event", "")), str(record.get("channel", ""))
            self._notifications.labels(orchestration, event, channel, outcome).inc()

    def reconciled(self, seconds: float, *, succeeded: bool, at: float) -> None:
        """A pass over the source ended after `seconds`; `at` (Unix time) counts when it succeeded."""
        self._passes.inc()
        self._pass_seconds.observe(seconds)
        if succeeded:
            self._reconciled.set(at)

    def render(self, unfinished: Iterable[RunSummary], errors: Mapping[str, int]) -> bytes:
        """The text exposition format; the gauges are set from what is true now."""
        runs = list(unfinished)
        self._waiting.set(sum(1 for s in runs if s.status.value == "waiting"))
        self._processing.set(sum(1 for s in runs if s.status.value == "processing"))
        self._invalid.clear()
        for name, count in errors.items():
            self._invalid.labels(name).set(count)
        return generate_latest(self.registry)
