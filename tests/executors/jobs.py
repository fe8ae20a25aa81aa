"""Builders of task jobs for the executor tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from orchrecon.documents.model import Configuration, EnvValue, HttpCall, KeboolaJob, RunSpec
from orchrecon.executors import TaskJob

TOKEN = "orch-tok-5f2b9c1e7a"


def configuration(
    *,
    command: tuple[str, ...] | None = None,
    http: HttpCall | None = None,
    keboola: KeboolaJob | None = None,
    cwd: str | None = None,
    env: Mapping[str, EnvValue] | None = None,
    timeout: timedelta = timedelta(seconds=30),
) -> Configuration:
    return Configuration(
        component="ex-shop",
        name="orders",
        description="",
        run=RunSpec(command=command, http=http, keboola=keboola, cwd=cwd, env=env or {}, timeout=timeout),
        parameters={"incremental": True},
        outputs=(),
    )


def task_job(
    root: Path,
    config: Configuration,
    *,
    environ: Mapping[str, str] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> TaskJob:
    return TaskJob(
        run_id="run-1",
        orchestration="daily-sales",
        task="shop-orders",
        config=config,
        parameters=parameters if parameters is not None else {"incremental": True, "days": 3},
        token=TOKEN,
        repo_root=root,
        log_path=root / "state" / "logs" / "run-1" / "shop-orders.log",
        environ=environ if environ is not None else {"PATH": "/usr/bin:/bin"},
    )


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls `condition` until it holds or `timeout` seconds pass; returns whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


async def async_wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True
