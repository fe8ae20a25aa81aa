"""Wiring: the real objects a command works with, built from its options. Commands take these."""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from orchrecon.clock import Clock, SystemClock
from orchrecon.documents.layout import find_root
from orchrecon.errors import NotFoundError, UsageError
from orchrecon.execution.recovery import recover
from orchrecon.store import state as state_dir
from orchrecon.store.backends import open_backend, state_url
from orchrecon.store.ledger import Ledger
from orchrecon.store.ports import LedgerPort, LockSpace
from orchrecon.store.records import SHOWN, Damage, LedgerDamagedError, notice
from orchrecon.store.runstore import RunStore
from orchrecon.store.state import StateDir
from orchrecon.store.tokens import TokenStore

# The runner, its executors, lineage and the API's tokens are imported where they are first used: a command that
# only reads (runs, show, tables touch, health) would otherwise pay for them at every start.
if TYPE_CHECKING:
    from orchrecon.execution.runner import Observer, Runner
    from orchrecon.executors import Executor, TaskJob, TaskResult
    from orchrecon.notify.lineage import Lineage
    from orchrecon.runs.state import RunView
    from orchrecon.store.apitokens import ApiTokenStore


@dataclass(frozen=True, kw_only=True)
class App:
    repo: Path  # the repository's working tree; without one, the state directory's `source/`
    state: StateDir
    clock: Clock
    ledger: LedgerPort
    locks: LockSpace
    store: RunStore
    tokens: TokenStore
    environ: Mapping[str, str]
    working_tree: bool = True  # False: no repository here; definitions come from the state directory
    dask_scheduler: str | None = None  # command tasks run on this Dask cluster (--dask-scheduler)
    lineage: Lineage | None = None  # OpenLineage events of every task attempt (--openlineage-url, -file)

    @cached_property
    def api_tokens(self) -> ApiTokenStore:
        from orchrecon.store.apitokens import ApiTokenStore  # noqa: PLC0415 - see TYPE_CHECKING above

        return ApiTokenStore(self.state.secrets, self.clock)

    def runner(
        self,
        *,
        max_parallel_jobs: int,
        observer: Observer | None = None,
        workdir: Callable[[str | None], Path] | None = None,
    ) -> Runner:
        """A runner whose tasks run in the repository, or in `workdir(revision)` when given."""
        from orchrecon.execution.runner import Runner  # noqa: PLC0415 - see TYPE_CHECKING above
        from orchrecon.executors.command import CommandExecutor  # noqa: PLC0415

        executors: dict[str, Executor] = {
            "command": CommandExecutor(),
            "http": _LazyExecutor(_http_executor),
            "keboola": _LazyExecutor(_keboola_executor),
        }
        if self.dask_scheduler:
            # Imported here: distributed takes a second to import, and only a deployment with a cluster needs it.
            from orchrecon.executors.cluster import DaskExecutor  # noqa: PLC0415

            executors["command"] = DaskExecutor(self.dask_scheduler)
        return Runner(
            ledger=self.ledger,
            locks=self.locks,
            store=self.store,
            state=self.state,
            clock=self.clock,
            executors=executors,
            tokens=self.tokens,
            # A job that calls orchrecon itself (tables touch) must reach this state directory.
            environ={**self.environ, "ORCHRECON_STATE_DIR": str(self.state.root)},
            workdir=workdir or (lambda _: self.repo),
            max_parallel_jobs=max_parallel_jobs,
            observer=observer,
            lineage=self.lineage,
        )

    def run_view(self, run_id: str) -> RunView:
        """The run named by `run_id` or by a unique prefix of its id (as git takes commits).

        Raises NotFoundError naming the text when no run matches, or listing the candidates when several do."""
        view = self.store.get(resolve_run_id(self.store, run_id))
        if view is None:
            raise NotFoundError(f"no run {run_id!r} (orchrecon runs lists them)")
        return view


AMBIGUOUS_SHOWN = 5  # candidates named in the message for an ambiguous prefix


def resolve_run_id(store: RunStore, text: str) -> str:
    """The full id of the one run whose id is `text` or begins with it."""
    if not text:
        raise UsageError("RUN_ID is empty")
    found = store.ids_starting_with(text, AMBIGUOUS_SHOWN + 1)
    if text in found or len(found) == 1:
        return text if text in found else found[0]
    if not found:
        raise NotFoundError(f"no run {text!r} (orchrecon runs lists them)")
    shown = ", ".join(found[:AMBIGUOUS_SHOWN]) + (" and more" if len(found) > AMBIGUOUS_SHOWN else "")
    raise NotFoundError(f"run id prefix {text!r} is ambiguous: {shown}")


def open_app(
    repo: Path | None,
    state: Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    read_only: bool = False,
    dask_scheduler: str | None = None,
    openlineage: tuple[str | None, Path | None] | None = None,
) -> App:
    """Find the repository, open its state directory and record runs whose process died.

    Without a repository (`repo` None: a remote source; or the current folder, not named with -C, is in
    none), the state directory must be named and `repo` is its `source/`: the app then works from the
    state directory alone (`working_tree` False), which must exist.

    `read_only`, for commands that only read: a named state directory must exist, nothing is created, and
    a damaged ledger is a warning on stderr; otherwise damage makes the command refuse
    (LedgerDamagedError, as soon as it is known). No dead run is recorded while there is damage.

    `dask_scheduler` (else ORCHRECON_DASK_SCHEDULER) sends command tasks to that Dask cluster.
    `openlineage` (a URL, else OPENLINEAGE_URL; or a file), given by the commands that run tasks, receives an
    OpenLineage event at the start and the end of every task attempt; the other commands never look."""
    # A plain dict: tasks copy it on every start, and copying os.environ decodes every entry each time.
    environ = dict(os.environ if environ is None else environ)
    named = state_dir.named(state, environ)
    root = None if repo is None else _repository(repo, named)
    if root is None:
        if named is None:
            raise UsageError("a remote repository (--git) needs --state-dir or ORCHRECON_STATE_DIR")
        directory = named
    else:
        directory = state_dir.resolve(root, state, environ)
    # Only a command that records may start a state directory, and not from a folder with no repository. With
    # a state database the state directory is this machine's cache of it, which any command may start.
    must_exist = (read_only and directory.named_by is not None and state_url(environ) is None) or (
        root is None and repo is not None
    )
    directory = directory.existing() if must_exist else directory.ensure()
    clock = clock or SystemClock()
    backend = open_backend(directory, clock, environ)
    ledger = backend.ledger

    def refuse(damage: list[Damage]) -> None:
        raise LedgerDamagedError(damage, directory.ledger)

    def warn(damage: list[Damage]) -> None:
        print(f"orchrecon: warning: {notice(damage, directory.ledger, SHOWN)}", file=sys.stderr)

    store = RunStore(ledger, backend.index, on_damage=warn if read_only else refuse)
    app = App(
        repo=root or directory.source,
        state=directory,
        clock=clock,
        ledger=ledger,
        locks=backend.locks,
        store=store,
        tokens=TokenStore(directory.secrets),
        environ=environ,
        working_tree=root is not None,
        dask_scheduler=cluster_address(dask_scheduler, environ),
        lineage=None if openlineage is None else _lineage(*openlineage, root or directory.source, ledger, environ),
    )
    recover(store, ledger, backend.locks)  # its first query refreshes the index: known damage shows there
    return app


DASK_SCHEDULER_VAR = "ORCHRECON_DASK_SCHEDULER"


def cluster_address(option: str | None, environ: Mapping[str, str]) -> str | None:
    """The Dask scheduler command tasks go to: `--dask-scheduler`, else ORCHRECON_DASK_SCHEDULER; None: here."""
    if option == "":
        raise UsageError("--dask-scheduler is empty: name the scheduler (tcp://HOST:8786), or leave it out")
    address = option or environ.get(DASK_SCHEDULER_VAR) or None
    if address is not None and "://" not in address:
        address = f"tcp://{address}"  # as `dask worker HOST:PORT` takes it
    return address


def _repository(repo: Path, named: StateDir | None) -> Path | None:
    """The repository holding `repo`; None when the current folder (not named with -C) is in none but a
    state directory is named, as in a container's empty working directory."""
    try:
        return find_root(repo)
    except NotFoundError:
        raise
    except UsageError as exc:
        if named is not None and repo == Path():
            return None
        hint = "" if named else "; or name a state directory (--state-dir, ORCHRECON_STATE_DIR) to work from it alone"
        raise UsageError(f"{exc}{hint}") from None


@dataclass(frozen=True, kw_only=True)
class LedgerAccess:
    state: StateDir
    clock: Clock
    ledger: Ledger
    store: RunStore


def open_ledger(
    repo: Path, state: Path | None, *, environ: Mapping[str, str] | None = None, clock: Clock | None = None
) -> LedgerAccess:
    """The ledger and its index alone (`ledger verify|repair`): no repository is needed when the state
    directory is named, nothing is created, and no dead run is recorded."""
    environ = os.environ if environ is None else environ
    directory = state_dir.named(state, environ) or state_dir.default(find_root(repo))
    if not directory.ledger.is_dir():
        raise NotFoundError(f"no ledger in {directory.root}")
    clock = clock or SystemClock()
    ledger = Ledger(directory.ledger, clock)
    return LedgerAccess(state=directory, clock=clock, ledger=ledger, store=RunStore(ledger, directory.index))


def _lineage(
    url: str | None, file: Path | None, repo: Path, ledger: LedgerPort, environ: Mapping[str, str]
) -> Lineage | None:
    from orchrecon.notify.lineage import URL_VAR as LINEAGE_URL_VAR  # noqa: PLC0415 - see TYPE_CHECKING above
    from orchrecon.notify.lineage import open_lineage  # noqa: PLC0415

    def record(fields: Mapping[str, object]) -> None:
        ledger.append_one("lineage.undelivered", **fields)

    try:
        lineage = open_lineage(url=url, file=file, source=repo.absolute().as_uri(), environ=environ, record=record)
    except ImportError:
        raise UsageError(
            "OpenLineage events need openlineage-python: pip install 'orchrecon[openlineage]'"
            f" (or unset {LINEAGE_URL_VAR})"
        ) from None
    except ValueError as exc:  # a URL it cannot use: said without the URL, which may hold a key
        raise UsageError(str(exc)) from None
    if lineage is not None:
        atexit.register(lineage.close)  # the events still queued get CLOSE_SECONDS as the process ends
    return lineage


class _LazyExecutor:
    """Imports an executor's module, and httpx with it, only when a task of its kind runs: most runs never need
    it, and httpx costs 60 ms."""

    def __init__(self, load: Callable[[], Executor]) -> None:
        self._load = load
        self._executor: Executor | None = None

    async def run(self, job: TaskJob) -> TaskResult:
        if self._executor is None:
            self._executor = self._load()
        return await self._executor.run(job)


def _http_executor() -> Executor:
    from orchrecon.executors.http import HttpExecutor  # noqa: PLC0415 - see _LazyExecutor

    return HttpExecutor()


def _keboola_executor() -> Executor:
    from orchrecon.executors.keboola import KeboolaExecutor  # noqa: PLC0415 - see _LazyExecutor

    return KeboolaExecutor()
