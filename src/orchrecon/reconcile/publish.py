"""Publishing what the ledger says: status files, `reports/<name>.md` and the index `reports/README.md`.

Every file is a function of the ledger (through the run index) and the applied definitions only, and each
one's `now` is the time of the newest fact it shows, never the wall clock: `report` rebuilds, byte for
byte, what the reconciler and `run` wrote as they went. Writes are atomic (temporary file, rename)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchrecon import gitsource
from orchrecon.app import App
from orchrecon.clock import format_time, parse_time
from orchrecon.documents.result import Validation
from orchrecon.documents.validation import validate_files
from orchrecon.reconcile import desired as desired_state
from orchrecon.reconcile.desired import Desired
from orchrecon.reconcile.status import RECENT_RUNS, encode, orchestration_status, recent_runs, write_texts
from orchrecon.reports.index import render_index
from orchrecon.reports.orchestration import ReportFacts, render_report
from orchrecon.runs.definition import RunDefinition
from orchrecon.scheduling.slots import schedule_key
from orchrecon.scheduling.triggers import TriggerView, evaluate, trigger_key
from orchrecon.store.runstore import RunSummary

REPORT_RUNS = 20
REPORT_DECISIONS = 20
LOG_LINES = 10
LOG_TAIL_BYTES = 16384
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # `now` of an orchestration the ledger knows nothing about yet


@dataclass(frozen=True, kw_only=True)
class _Observed:
    """What the run index says beyond runs, read once per publication."""

    updates: Mapping[str, datetime]
    marks: Mapping[str, datetime]
    reconciled: datetime | None


class Publisher:
    """Writes the files of the orchestrations a change touched and the index. It remembers the statuses
    it computed, so the index after a change costs the touched ones only (the reconciler keeps one)."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._statuses: dict[str, dict[str, Any]] = {}
        self._digests: dict[str, bytes] = {}  # file -> digest of what this publisher wrote there

    def publish(
        self, desired: Mapping[str, Desired], names: Collection[str] | None = None, *, index: bool = True
    ) -> int:
        """Write the status files and reports of `names` (None: every orchestration) and, unless `index`
        is False, the index. Orchestrations that have runs but no applied definition get a report, not a
        status file."""
        statuses, facts = self.compute(desired, names)
        state = self._app.state
        try:
            status_files = ((f"{n}.json", encode(statuses[n])) for n in sorted(facts) if n in desired)
            write_texts(state.status, self._changed("status", status_files))
            reports = [(f"{n}.md", render_report(f)) for n, f in sorted(facts.items())]
            readme = [("README.md", render_index(list(statuses.values())))] if index else []
            write_texts(state.reports, self._changed("reports", [*reports, *readme]))
        except BaseException:
            self._digests.clear()  # what was written is unknown: write everything next time
            raise
        return len(reports)

    def status(self, name: str) -> Mapping[str, Any] | None:
        """The status last published for `name`, as its status file holds it (None: none yet)."""
        return self._statuses.get(name)

    def _changed(self, folder: str, files: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
        """The files whose content differs from what this publisher last wrote there: the reconciler
        rewrites every status after each new revision and most are the same."""
        for name, text in files:
            digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
            key = f"{folder}/{name}"
            if self._digests.get(key) != digest:
                self._digests[key] = digest
                yield name, text

    def compute(
        self, desired: Mapping[str, Desired], names: Collection[str] | None = None
    ) -> tuple[dict[str, dict[str, Any]], dict[str, ReportFacts]]:
        """Every orchestration's status (by name) and the report facts of `names` (None: all)."""
        store = self._app.store
        with store.consistent():
            covered = set(desired) | store.orchestrations()
            todo = covered if names is None else set(names) & covered
            self._statuses = {n: s for n, s in self._statuses.items() if n in covered and n not in todo}
            if names is not None:  # the others' status files are current: whoever touched them wrote them
                self._statuses |= self._written(covered - todo - set(self._statuses), desired)
            fresh = todo | (covered - set(self._statuses))
            observed = self._observe()
            runs = store.latest_of(sorted(fresh), REPORT_RUNS)
            for name in sorted(fresh):
                self._statuses[name] = self._status(name, desired.get(name), observed, runs[name])
            decisions = store.decisions_of(sorted(todo), REPORT_DECISIONS)
            facts = {n: self._facts(n, desired.get(n), runs[n], decisions[n]) for n in sorted(todo)}
        return dict(sorted(self._statuses.items())), facts

    def _written(self, names: Collection[str], desired: Mapping[str, Desired]) -> dict[str, dict[str, Any]]:
        """The status files of `names` that are there and readable (those of applied orchestrations)."""
        found, folder = {}, str(self._app.state.status)
        for name in names:
            if name in desired:
                with contextlib.suppress(OSError, ValueError), open(f"{folder}/{name}.json", "rb") as f:  # noqa: PTH123 - a str path: 100 of them cost 10 ms less than Path
                    found[name] = json.loads(f.read())
        return found

    def _observe(self) -> _Observed:
        store = self._app.store
        last = store.last_reconcile()
        return _Observed(
            updates={t: parse_time(at) for t, (at, _) in store.table_updates().items()},
            marks={k: parse_time(at) for k, at in store.marks().items()},
            reconciled=parse_time(last[0]) if last else None,
        )

    def _status(self, name: str, d: Desired | None, seen: _Observed, runs: list[RunSummary]) -> dict[str, Any]:
        times = [parse_time(t) for r in runs for t in (r.requested_at, r.started_at, r.finished_at) if t]
        orchestration = d.applied.orchestration if d and d.applied and d.active else None
        trigger = orchestration.trigger if orchestration else None
        armed = seen.marks.get(trigger_key(name, trigger)) if trigger else None
        state = None
        if orchestration is not None:
            times += [seen.marks[k] for s in orchestration.schedules if (k := schedule_key(name, s)) in seen.marks]
        if trigger is not None and armed is not None:
            last = runs[0] if runs else None  # the last run: its start, or its request while it waits
            start = parse_time(last.started_at or last.requested_at or "") if last else None
            view = TriggerView(armed_at=armed, last_run_start=start, updates=seen.updates)
            moments = [armed, *(seen.updates[t] for t in trigger.tables if t in seen.updates)]
            if view.last_run_start:
                moments.append(view.last_run_start)
            state = evaluate(trigger, view, max(moments), suspended=orchestration.suspend if orchestration else False)
            times += moments
        if d is not None and seen.reconciled is not None:
            times.append(seen.reconciled)
        now = max(times) if times else EPOCH
        if d is None:
            return _unreconciled(name, now, runs)
        return orchestration_status(
            d,
            now=now,
            trigger=state,
            trigger_armed=format_time(armed) if armed else None,
            runs=runs[:RECENT_RUNS],
            decided=seen.marks,
        )

    def _facts(
        self, name: str, d: Desired | None, runs: list[RunSummary], decisions: list[dict[str, Any]]
    ) -> ReportFacts:
        latest = self._app.store.get(runs[0].id) if runs else None
        definition, source = None, "no applied revision"
        if d is not None and d.applied is not None:
            definition, source = d.applied.orchestration, f"applied revision {(d.applied.revision or '-')[:12]}"
        elif latest is not None:
            request = self._app.store.request(latest.id)
            if request is not None:
                definition = RunDefinition.from_request(request).orchestration
                source = f"the latest run, {latest.id} (no reconciler has applied it)"
        logs = {t.name: _tail(Path(t.log)) for p in latest.phases for t in p.tasks if t.log} if latest else {}
        return ReportFacts(
            status=self._statuses[name],
            definition=definition,
            definition_from=source,
            runs=runs,
            latest=latest,
            logs={k: v for k, v in logs.items() if v},
            decisions=decisions,
        )


def _unreconciled(name: str, now: datetime, runs: list[RunSummary]) -> dict[str, Any]:
    """A status-shaped view of an orchestration no reconcile has seen (only run by hand)."""
    return {
        "name": name,
        "appliedRevision": None,
        "lastAttemptedRevision": None,
        "conditions": [
            {"type": "Ready", "status": "Unknown", "reason": "NotReconciled", "message": "no reconcile has seen it"}
        ],
        "diagnostics": [],
        "suspended": False,
        "schedules": [],
        "trigger": None,
        "recentRuns": recent_runs(runs),
        "updatedAt": format_time(now),
    }


def _tail(path: Path) -> list[str]:
    """The last lines of a task's log (none if it is gone)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - LOG_TAIL_BYTES))
            data = f.read()
    except OSError:
        return []
    lines = data.decode(errors="replace").splitlines()
    if size > LOG_TAIL_BYTES:
        lines = lines[1:]  # the first one is cut
    return lines[-LOG_LINES:]


def git_dir(app: App) -> Path:
    """Where the applied revisions are read: the reconciler's mirror of a remote, else the repository."""
    mirror = app.state.source / "mirror.git"
    return mirror if mirror.is_dir() else app.repo


def desired_from_ledger(app: App) -> dict[str, Desired]:
    """The desired state the last reconcile left, rebuilt from the ledger and the revisions it names: each
    orchestration's applied definition, and the last attempted revision's verdict (Ready, problems)."""
    last = app.store.last_reconcile()
    if last is None:
        return {}
    read: dict[str, Validation] = {}

    def validate(revision: str) -> Validation:
        if revision not in read:
            read[revision] = validate_files(gitsource.read_revision(git_dir(app), revision))
        return read[revision]

    restored = desired_state.restore(app.store.applied_revisions(), validate)
    try:
        return desired_state.reconcile(restored, validate(last[1]), last[1])
    except gitsource.GitError:
        return restored


def publish_all(app: App) -> int:
    """`report`: every status file and report, and the index, from the ledger; returns how many."""
    return Publisher(app).publish(desired_from_ledger(app))
