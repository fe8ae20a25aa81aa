"""`orchrecon run NAME`: run an orchestration now, in this process, from the working tree."""

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
from orchrecon.gitsource import user_email
from orchrecon.runs.definition import select


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("run", parents=[common])
    p.add_argument("name", metavar="NAME")
    p.add_argument("--task", action="append", default=[], metavar="T", help="run only these tasks")
    p.add_argument("--skip-task", action="append", default=[], metavar="T", help="leave these tasks out")
    p.add_argument("--as", dest="as_email", metavar="EMAIL", help="who is notified (default: git user.email)")
    add_cluster_option(p)
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            name=a.name,
            tasks=a.task,
            skip=a.skip_task,
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
    name: str,
    tasks: Sequence[str],
    skip: Sequence[str],
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
    definition = current_definition(app, name)
    selected = select(definition.orchestration, tasks, skip, source=definition.source)
    by = as_email or user_email(app.repo)
    return execute(app, definition, selected=selected, trigger="manual", by=by, retry_of=None, out=out)
