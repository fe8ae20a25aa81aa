"""`orchrecon reconcile`: the long-running reconciler over a local checkout or a remote branch."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from orchrecon.app import App, open_app
from orchrecon.clock import Clock, format_time
from orchrecon.commands import Subparsers, add_cluster_option
from orchrecon.commands._runs import watch_children_with_pidfd
from orchrecon.documents.durations import parse_duration
from orchrecon.documents.layout import find_root
from orchrecon.errors import OrchreconError, UsageError
from orchrecon.gitsource import LocalSource, Source
from orchrecon.gitsource.remote import RemoteSource
from orchrecon.reconcile.reconciler import AlreadyRunningError, Log, Reconciler
from orchrecon.store.ports import UnavailableError

if TYPE_CHECKING:
    from orchrecon.api.server import ApiServer

STANDBY_POLL_SECONDS = 0.5
RETRY_FIRST_SECONDS = 1.0  # see `_pauses`
RETRY_MAX_SECONDS = 30.0
DEFAULT_BRANCH = "main"


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("reconcile", parents=[common])
    p.add_argument("--git", metavar="URL", help="follow this remote repository instead of the local checkout")
    p.add_argument("--branch", metavar="B", help="the branch of --git to follow (main)")
    p.add_argument("--watch", action="store_true", help="apply a new local commit at once, not at the next interval")
    p.add_argument("--interval", default="60s", metavar="DURATION", help="how often to look for a new commit (60s)")
    p.add_argument("--once", action="store_true", help="reconcile, start what is due, wait for it, exit")
    p.add_argument("--grace", default="30s", metavar="DURATION", help="on SIGTERM, how long runs may finish (30s)")
    p.add_argument("--standby", action="store_true", help="wait while another reconciler holds the state directory")
    p.add_argument("--log-format", choices=["text", "json"], default="text")
    add_cluster_option(p)
    p.add_argument("--listen", metavar="HOST:PORT", help="serve the HTTP API there (port 0: any free port)")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo,
            state_dir=a.state_dir,
            git_url=a.git,
            branch=a.branch,
            watch=a.watch,
            interval=a.interval,
            once=a.once,
            grace=a.grace,
            standby=a.standby,
            log_format=a.log_format,
            listen=a.listen,
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
    git_url: str | None,
    branch: str | None,
    watch: bool,
    interval: str,
    once: bool,
    grace: str,
    standby: bool,
    log_format: str,
    out: TextIO,
    listen: str | None = None,
    environ: Mapping[str, str],
    dask_scheduler: str | None = None,
    lineage: tuple[str | None, Path | None] = (None, None),
) -> int:
    every, patience = _duration("--interval", interval), _duration("--grace", grace)
    address = None
    if listen is not None:
        from orchrecon.api.server import parse_listen  # noqa: PLC0415 - uvicorn and starlette only with --listen

        address = parse_listen(listen)
    if every < timedelta(seconds=1):
        raise UsageError("--interval must be at least 1s")
    if git_url == "":
        raise UsageError("--git is empty: name the remote repository, or leave --git out to follow the checkout")
    if branch == "":
        raise UsageError(f"--branch is empty: name a branch, or leave it out to follow {DEFAULT_BRANCH}")
    if git_url is None and branch is not None:
        raise UsageError("--branch needs --git URL")
    if git_url is not None and watch:
        raise UsageError("--watch follows a local checkout; a remote one (--git) is fetched every --interval")
    # A local source needs a repository here, even where a state directory alone would do for other commands.
    root = None if git_url else find_root(repo)
    app = _retrying(
        lambda: open_app(
            root,
            state_dir,
            environ=environ,
            dask_scheduler=dask_scheduler,
            openlineage=lineage,
        )
    )
    source: Source = (
        RemoteSource(git_url, branch or DEFAULT_BRANCH, app.state.source, environ) if git_url else LocalSource(app.repo)
    )

    log = _logger(log_format, out, app.clock)
    reconciler = Reconciler(app, source, interval=every, log=log)
    try:
        asyncio.run(
            _serve(reconciler, source, log, watch=watch, once=once, standby=standby, grace=patience, listen=address)
        )
    finally:
        if app.lineage is not None:
            app.lineage.close()  # while the ledger can still record what the catalogue did not take
        app.ledger.close()
    if once and not reconciler.source_state.ready:  # a one-off pass that could not look says so
        state = reconciler.source_state
        raise OrchreconError(f"source not ready ({state.reason.value}): {state.message}")
    return 0


def _retrying(open_: Callable[[], App]) -> App:
    """`open_()`, tried again with a growing pause while the state database cannot be reached: a reconciler
    started before its database waits for it (one line each time), where a crash loop would only add noise."""
    pauses = _pauses()
    while True:
        try:
            return open_()
        except UnavailableError as exc:
            if not exc.retryable:
                raise
            delay = next(pauses)
            print(f"orchrecon: {exc}; trying again in {delay:g}s", file=sys.stderr, flush=True)
            time.sleep(delay)


def _pauses() -> Iterator[float]:
    """The pauses between attempts to reach the state database: RETRY_FIRST_SECONDS, then twice as long each
    time, up to RETRY_MAX_SECONDS."""
    delay = RETRY_FIRST_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, RETRY_MAX_SECONDS)


def _duration(option: str, text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def _logger(log_format: str, out: TextIO, clock: Clock) -> Log:
    def log(event: str, fields: Mapping[str, object]) -> None:
        stamp = format_time(clock.now())
        if log_format == "json":
            out.write(json.dumps({"time": stamp, "event": event, **fields}) + "\n")
        else:
            words = " ".join(f"{k}={_text(v)}" for k, v in fields.items())
            out.write(f"{stamp}  {event}  {words}\n" if words else f"{stamp}  {event}\n")
        out.flush()

    return log


def _text(value: object) -> str:
    """A field as people read it in a text line: lists joined with commas, text with spaces quoted."""
    if isinstance(value, Mapping):
        return ",".join(f"{k}@{v}" if v else str(k) for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) or "none"
    text = "-" if value is None else str(value)
    return json.dumps(text, ensure_ascii=False) if not text or any(c.isspace() or c in '"=' for c in text) else text


async def _serve(
    reconciler: Reconciler,
    source: Source,
    log: Log,
    *,
    watch: bool,
    once: bool,
    standby: bool,
    grace: timedelta,
    listen: tuple[str, int] | None = None,
) -> None:
    watch_children_with_pidfd()
    pauses = _pauses()
    while True:
        try:
            reconciler.acquire()
            break
        except AlreadyRunningError as exc:
            if not standby:
                raise OrchreconError(f"{exc}; exiting (use --standby to take over when it stops)") from None
            await asyncio.sleep(STANDBY_POLL_SECONDS)
        except UnavailableError as exc:  # the state database went away: wait for it, one line each time
            if not exc.retryable:
                raise
            delay = next(pauses)
            log("state database unavailable", {"error": str(exc), "retry": f"{delay:g}s"})
            await asyncio.sleep(delay)
    log("started", {**source.describe(), "state": str(reconciler.state_root), "pid": os.getpid()})
    try:
        api = _api(reconciler, log, listen) if listen else None
    except BaseException:
        reconciler.release()
        raise
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, reconciler.stop, sig.name)
    stop_watching = asyncio.Event()
    watcher = None
    if watch and not once:
        from orchrecon.gitsource.watch import watch_commits  # noqa: PLC0415 - watchfiles and anyio cost 50 ms

        watcher = asyncio.create_task(watch_commits(source.git_dir, reconciler.source_changed, stop_watching))
        watcher.add_done_callback(functools.partial(_watch_ended, log))
    serving = asyncio.create_task(api.serve()) if api else None
    try:
        await reconciler.serve(once=once, grace=grace.total_seconds())
    finally:
        stop_watching.set()
        if watcher is not None:
            await asyncio.gather(watcher, return_exceptions=True)
        if api is not None and serving is not None:
            api.stop()
            await asyncio.gather(serving, return_exceptions=True)
        reconciler.release()
    log("stopped", {"reason": reconciler.stop_reason} if reconciler.stop_reason else {})
    if reconciler.deposed is not None:
        # As a Kubernetes controller that loses its lease exits: its supervisor starts it again, as a standby.
        raise OrchreconError(
            f"lost the leadership ({reconciler.deposed}); another reconciler leads now; exiting (restart it with"
            " --standby to take over when that one stops)"
        )


class _Api:
    """The HTTP API over the reconciler, on a socket already bound."""

    def __init__(self, server: ApiServer, sock: socket.socket) -> None:
        self._server, self._socket = server, sock

    async def serve(self) -> None:
        await self._server.serve([self._socket])

    def stop(self) -> None:
        self._server.stop()


def _api(reconciler: Reconciler, log: Log, listen: tuple[str, int]) -> _Api:
    """Bind the socket (a port in use is a one-line error), tell where, and build the server."""
    from orchrecon.api.app import create_app  # noqa: PLC0415 - see `run`
    from orchrecon.api.server import bind, server, url_of  # noqa: PLC0415
    from orchrecon.reconcile.operations import Operations  # noqa: PLC0415

    sock = bind(*listen)
    url = url_of(sock)
    reconciler.serving(url)
    app = create_app(Operations(reconciler), reconciler.app.api_tokens, log=log)
    log("listening", {"url": url})
    return _Api(server(app, log), sock)


def _watch_ended(log: Log, task: asyncio.Task[None]) -> None:
    """If the watcher died (say, out of inotify watches), new commits still come at each interval."""
    if not task.cancelled() and task.exception() is not None:
        log("watch failed", {"error": str(task.exception())})
