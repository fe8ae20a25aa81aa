"""`orchrecon retry RUN_ID`: run a finished run again, by default its failed part (as Keboola does)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from orchrecon.app import open_app
from orchrecon.commands import Subparsers, add_cluster_option
from orchrecon.commands._runs import check_person, current_definition, execute
from orchrecon.errors import UsageError
from orchrecon.gitsource import user_email
from orchrecon.runs.definition import RunDefinition, retry_selection, select


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("retry", parents=[common])
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument("--task", action="append", default=[], metavar="T", help="retry these tasks instead")
    p.add_argument("--current", action="store_true", help="use the working tree's definition, not the run's")
    p.add_argument("--as", dest="as_email", metavar="EMAIL", help="who is notified (default: git user.email)")
    add_cluster_option(p)
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            run_id=a.run_id,
            tasks=a.task,
            current=a.current,
            as_email=a.as_email,
            dask_scheduler=a.dask_scheduler,
            lineage=(a.openlineage_url, a.openlineage_file),
            out=sys.stdout,
            environ=os.environ,
        )
    )


def run(
    *,
    repo: Path,
    state_dir: Path | None,
    run_id: str,
    tasks: Sequence[str],
    current: bool,
    as_email: str | None,
    out: TextIO,
    environ: Mapping[str, str],
    dask_scheduler: str | None = None,
    lineage: tuple[str | None, Path | None] = (None, None),
) -> int:
    check_person(as_email)
    app = open_app(
        repo,
        state_dir,
        environ=environ,
        dask_scheduler=dask_scheduler,
        openlineage=lineage,
    )
    old = app.run_view(run_id)
    run_id = old.id  # the full id of a prefix
    if not old.status.finished:
        raise UsageError(f"run {run_id} is {old.status.value}; only a finished run can be retried")
    if current:
        definition = current_definition(app, old.orchestration)
    else:
        request = app.store.request(run_id)
        assert request is not None
        definition = RunDefinition.from_request(request)
    selected = (
        select(definition.orchestration, tasks, source=definition.source)
        if tasks
        else retry_selection(old, definition.orchestration)
    )
    if not selected:
        raise UsageError(f"run {run_id} has nothing to retry; name tasks with --task")
    by = as_email or user_email(app.repo)
    return execute(app, definition, selected=selected, trigger="retry", by=by, retry_of=run_id, out=out)
