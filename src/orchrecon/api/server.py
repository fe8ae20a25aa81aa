"""Serving the app: the `--listen HOST:PORT` address, its socket (bound before the server starts, so a
port in use is a one-line error and `:0` names the port it got), and uvicorn in the caller's loop."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from orchrecon.api.guard import Log
from orchrecon.errors import OrchreconError, UsageError, cause

KEEP_ALIVE_SECONDS = 5  # an idle connection is closed after this
GRACEFUL_SECONDS = 5  # on stop, requests in flight get this long
MAX_CONCURRENCY = 1000  # connections and requests at once; beyond, uvicorn answers 503


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (an IPv6 host in brackets) as (host, port); UsageError otherwise."""
    host, colon, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, such as 127.0.0.1:8080 (port 0: any free one)")
    return host, int(port)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; OrchreconError naming the address and the cause when it cannot be had."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OrchreconError(f"cannot listen on {address}: {exc.strerror}") from None
    family, kind, proto, _, where = found[0]
    try:
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise OrchreconError(f"cannot listen on {address}: {cause(exc)}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(where)
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise OrchreconError(f"cannot listen on {address}: {cause(exc)}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ApiServer(uvicorn.Server):
    """uvicorn in a loop it does not own: the reconciler handles the signals and stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def stop(self) -> None:
        self.should_exit = True


def server(app: ASGIApp, log: Log) -> ApiServer:
    """A server for `app`; serve it with `await server.serve([socket])`. uvicorn's own warnings (a
    malformed request, say) go to `log`, never to stderr as tracebacks."""
    _forward_uvicorn_logs(log)
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        limit_concurrency=MAX_CONCURRENCY,
    )
    return ApiServer(config)


class _Forward(logging.Handler):
    def __init__(self, log: Log) -> None:
        super().__init__(logging.WARNING)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().splitlines()[0] if record.getMessage() else record.levelname
        self._log("api server", {"message": message})


def _forward_uvicorn_logs(log: Log) -> None:
    logger = logging.getLogger("uvicorn")
    logger.handlers = [_Forward(log)]
    logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
