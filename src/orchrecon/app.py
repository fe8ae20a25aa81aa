"""Wiring: the real objects a command works with, built from its options. Commands take these."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from orchrecon.clock import Clock, SystemClock
from orchrecon.documents.repository import find_root
from orchrecon.errors import NotFoundError, UsageError
from orchrecon.execution.runner import Observer, Runner, recover
from orchrecon.executors import Executor, TaskJob, TaskResult
from orchrecon.executors.command import CommandExecutor
from orchrecon.runs.state import RunView
from orchrecon.store import state as state_dir
from orchrecon.store.ledger import Ledger
from orchrecon.store.runstore import RunStore
from orchrecon.store.state import StateDir
from orchrecon.store.tokens import TokenStore


@dataclass(frozen=True, kw_only=True)
class App:
    repo: Path
    state: StateDir
    clock: Clock
    ledger: Ledger
    store: RunStore
    tokens: TokenStore
    environ: Mapping[str, str]

    def runner(
        self,
        *,
        max_parallel_jobs: int,
        observer: Observer | None = None,
        workdir: Callable[[str | None], Path] | None = None,
    ) -> Runner:
        """A runner whose tasks run in the repository, or in `workdir(revision)` when given."""
        executors: dict[str, Executor] = {"command": CommandExecutor(), "http": _LazyHttpExecutor()}
        return Runner(
            ledger=self.ledger,
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
) -> App:
    """Find the repository, open its state directory and record runs whose process died. Without a
    repository (a remote source), the state directory must be named and `repo` is its `source/`."""
    # A plain dict: tasks copy it on every start, and copying os.environ decodes every entry each time.
    environ = dict(os.environ if environ is None else environ)
    if repo is None:
        named = state_dir.named(state, environ)
        if named is None:
            raise UsageError("a remote repository (--git) needs --state-dir or ORCHRECON_STATE_DIR")
        directory = named.ensure()
        root = directory.source
    else:
        root = find_root(repo)
        directory = state_dir.resolve(root, state, environ).ensure()
    clock = clock or SystemClock()
    ledger = Ledger(directory.ledger, clock)
    store = RunStore(ledger, directory.index)
    app = App(
        repo=root,
        state=directory,
        clock=clock,
        ledger=ledger,
        store=store,
        tokens=TokenStore(directory.secrets),
        environ=environ,
    )
    recover(store, ledger, directory)
    return app


class _LazyHttpExecutor:
    """Imports httpx only when an http task runs: most runs never need it, and it costs 60 ms."""

    def __init__(self) -> None:
        self._executor: Executor | None = None

    async def run(self, job: TaskJob) -> TaskResult:
        if self._executor is None:
            from orchrecon.executors.http import HttpExecutor  # noqa: PLC0415 - see the class docstring

            self._executor = HttpExecutor()
        return await self._executor.run(job)
