"""What the HTTP API may ask of a running reconciler: read its published state, request runs, record
table updates and cancels. The API sees only these methods (a narrow port), never the loop's internals.

Reads are quick sqlite or in-memory lookups on the loop; every write goes through the reconciler's one
writer thread (append + fsync), so a slow disk never delays a decision or another request."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from orchrecon.errors import NotFoundError, OrchreconError
from orchrecon.reconcile.desired import Desired, Reason
from orchrecon.reconcile.reconciler import Reconciler
from orchrecon.reports.runjson import run_detail, summary_json
from orchrecon.runs.definition import RunDefinition, retry_selection, select
from orchrecon.runs.state import fold
from orchrecon.store.ledger import Record

ENDED_KEPT = 10_000  # details of ended runs kept in memory: a poll of a run that ended costs no query


class ConflictError(OrchreconError):
    """The request is understood but the state forbids it now (HTTP 409)."""


class Operations:
    def __init__(self, reconciler: Reconciler) -> None:
        self._reconciler = reconciler
        self._store = reconciler.app.store
        self._ended: OrderedDict[str, dict[str, Any]] = OrderedDict()  # details of ended runs, least recent first

    # -- health --------------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._reconciler.stopping

    def readiness(self) -> str | None:
        """None when ready: the lock is held and a source revision is applied; else why not."""
        r = self._reconciler
        if not r.holds_lock:
            return "the reconciler does not hold the state directory's lock"
        if r.stopping:
            return "the reconciler is stopping"
        if r.revision is None:
            state = r.source_state
            return f"no source revision applied yet ({state.reason.value}: {state.message})"
        return None

    def metrics(self) -> bytes:
        errors = {n: len(d.diagnostics) for n, d in self._reconciler.desired.items() if d.reason is not Reason.REMOVED}
        return self._reconciler.metrics.render(self._store.unfinished(), errors)

    # -- orchestrations ------------------------------------------------------------------------------

    def orchestrations(self) -> list[str]:
        """The names of the orchestrations the source defines (valid or not), sorted."""
        return sorted(n for n, d in self._reconciler.desired.items() if d.reason is not Reason.REMOVED)

    def orchestration(self, name: str) -> Mapping[str, Any]:
        """Its published status (what `status/<name>.json` holds). NotFoundError if unknown."""
        self._desired(name)
        return self._reconciler.published(name) or {"name": name, "note": "status not published yet"}

    def _desired(self, name: str) -> Desired:
        d = self._reconciler.desired.get(name)
        if d is None or d.reason is Reason.REMOVED:
            raise NotFoundError(f"no orchestration {name!r}")
        return d

    def _applied(self, name: str) -> RunDefinition:
        d = self._desired(name)
        if d.applied is None:
            raise ConflictError(
                f"orchestration {name!r} has no valid definition applied ({d.reason.value}: {d.message})"
            )
        return d.applied

    # -- runs ----------------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        """What `show --format json` prints for the run. NotFoundError if unknown."""
        if run_id in self._ended:
            self._ended.move_to_end(run_id)
            return self._ended[run_id]
        live = self._reconciler.live_run(run_id)
        if live is not None:  # running here: its view is current, no query needed
            return run_detail(live[0], {"cause": live[1]})
        records = self._store.records(run_id)  # one index query, and a catch-up when the ledger grew
        view = fold(records).get(run_id) if records else None
        if view is None:
            raise NotFoundError(f"no run {run_id!r}")
        detail = run_detail(view, next((r for r in records if r["type"] == "run.requested"), None))
        if view.status.finished:  # it never changes again: `ledger repair` refuses while a reconciler runs
            self._ended[run_id] = detail
            if len(self._ended) > ENDED_KEPT:
                self._ended.popitem(last=False)
        return detail

    def run_orchestration(self, run_id: str) -> str:
        view = self._store.get(run_id)
        if view is None:
            raise NotFoundError(f"no run {run_id!r}")
        return view.orchestration

    def runs(self, orchestration: str | None, limit: int, within: Collection[str] | None) -> list[dict[str, object]]:
        """The latest runs, newest first, of `orchestration` (None: any) among `within` (None: all)."""
        if orchestration is not None:
            found = self._store.recent(orchestration, limit)
            if not found and orchestration not in self._reconciler.desired:
                raise NotFoundError(f"no orchestration {orchestration!r} and no runs of one")
        elif within is None:
            found = self._store.recent(None, limit)
        else:
            per = self._store.recent_of(sorted(within), limit)
            found = sorted((s for runs in per.values() for s in runs), key=lambda s: s.seq, reverse=True)[:limit]
        return [summary_json(s) for s in found]

    async def start(
        self, name: str, *, tasks: Sequence[str], skip: Sequence[str], by: str | None, token: str
    ) -> Record:
        """Request a manual run (`trigger: api`); suspended orchestrations may be run, as from the CLI."""
        definition = self._applied(name)
        selected = select(definition.orchestration, tasks, skip)
        return await self._request(definition, selected, trigger="api", by=by, token=token)

    async def retry(self, run_id: str, *, tasks: Sequence[str], current: bool, by: str | None, token: str) -> Record:
        """Run a finished run again, as `orchrecon retry` does (`current`: the applied definition)."""
        old = self._store.get(run_id)
        request = self._store.request(run_id)
        if old is None or request is None:
            raise NotFoundError(f"no run {run_id!r}")
        if not old.status.finished:
            raise ConflictError(f"run {run_id} is {old.status.value}; only a finished run can be retried")
        definition = self._applied(old.orchestration) if current else RunDefinition.from_request(request)
        selected = select(definition.orchestration, tasks) if tasks else retry_selection(old, definition.orchestration)
        if not selected:
            raise ConflictError(f"run {run_id} has nothing to retry; name tasks")
        return await self._request(definition, selected, trigger="retry", by=by, token=token, retry_of=run_id)

    async def _request(
        self,
        definition: RunDefinition,
        selected: frozenset[str],
        *,
        trigger: str,
        by: str | None,
        token: str,
        retry_of: str | None = None,
    ) -> Record:
        if self._reconciler.stopping:
            raise ConflictError("the reconciler is stopping; no run is started")
        return await self._reconciler.request(
            definition, selected=selected, trigger=trigger, by=by, cause={"token": token}, retry_of=retry_of
        )

    async def cancel(self, run_id: str, *, by: str) -> dict[str, Any]:
        """Record `run.cancel-requested`; whoever runs it stops it. ConflictError once it ended."""
        view = self._store.get(run_id)
        if view is None:
            raise NotFoundError(f"no run {run_id!r}")
        if view.status.finished:
            raise ConflictError(f"run {run_id} already ended: {view.status.value}")
        await self._reconciler.append([{"type": "run.cancel-requested", "run": run_id, "by": by}])
        return {"id": run_id, "orchestration": view.orchestration, "status": view.status.value, "cancelRequested": True}

    # -- tables --------------------------------------------------------------------------------------

    def knows_table(self, table: str) -> bool:
        """Whether an applied trigger lists the table or an applied configuration reads or writes it."""
        for d in self._reconciler.desired.values():
            if d.applied is None:
                continue
            trigger = d.applied.orchestration.trigger
            if trigger is not None and table in trigger.tables:
                return True
            for ref, config in d.applied.configurations.items():
                inputs = d.applied.documents["configurations"].get(ref, {}).get("spec", {}).get("inputs", ())
                if table in config.outputs or table in inputs:
                    return True
        return False

    async def table_updated(self, table: str, *, source: str) -> Record:
        """Record the update; the reconciler decides the triggers it concerns as for `tables touch`."""
        written = await self._reconciler.append([{"type": "table.updated", "table": table, "source": source}])
        return written[0]
