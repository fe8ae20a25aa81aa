"""The outermost layer of the app: request bodies capped, and no exception ever reaches the client as
anything but a JSON error (nor the server's log as a traceback)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchrecon.api.errors import error_response
from orchrecon.errors import crash_log

MAX_BODY = 64 * 1024

Log = Callable[[str, Mapping[str, object]], None]


class _TooLarge(Exception):
    pass


class Guard:
    """Refuses a body over `limit` bytes with 413: at once by its Content-Length, and by counting what
    arrives for a chunked one. Turns any exception into a 500 JSON error and one log line."""

    def __init__(self, app: ASGIApp, *, log: Log, limit: int = MAX_BODY) -> None:
        self._app = app
        self._log = log
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        too_large = f"the request body is over {self._limit // 1024} KiB"
        if length.isdigit() and int(length) > self._limit:
            await error_response(413, too_large)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await error_response(413, too_large)(scope, receive, send)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            self._log("api error", {"method": scope.get("method", ""), "error": error, "detail": crash_log(exc)})
            if not started:
                await error_response(500, "internal error (the reconciler's log says more)")(scope, receive, send)
