"""The Starlette app: every endpoint of the API, each one authenticating, checking its scope, then asking
the reconciler through the port. Status codes: 200/201/202, 401 no valid token, 403 outside the token's
scope, 404 unknown, 405 wrong method, 409 refused in the current state, 413 body over 64 KiB, 422 bad
input (the message names the field), 503 not ready or stopping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchrecon.access import Action, Principal
from orchrecon.api import names
from orchrecon.api.auth import Authenticator, may_scrape, readable, require
from orchrecon.api.bodies import Kind, query, read_object
from orchrecon.api.errors import ApiError, api_error, error_response, http_error
from orchrecon.api.guard import Guard, Log
from orchrecon.api.port import Reconciling, Tokens
from orchrecon.errors import NotFoundError, OrchreconError, StorageError, UsageError

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(reconciler: Reconciling, tokens: Tokens, *, log: Log) -> Starlette:
    """The API over `reconciler` with the principals `tokens` authenticates."""
    api = _Api(reconciler, Authenticator(tokens))
    get, post, delete = ["GET"], ["POST"], ["DELETE"]
    routes = [
        Route("/healthz", api.healthz, methods=get),
        Route("/readyz", api.readyz, methods=get),
        Route("/metrics", api.metrics, methods=get),
        Route("/api/v1/orchestrations", api.orchestrations, methods=get),
        Route("/api/v1/orchestrations/{name}", api.orchestration, methods=get),
        Route("/api/v1/orchestrations/{name}/runs", api.start, methods=post),
        Route("/api/v1/runs", api.runs, methods=get),
        Route("/api/v1/runs/{run_id}", api.run, methods=get),
        Route("/api/v1/runs/{run_id}/retry", api.retry, methods=post),
        Route("/api/v1/runs/{run_id}/cancel", api.cancel, methods=post),
        Route("/api/v1/tables/{table}/updated", api.table_updated, methods=post),
        Route("/api/v1/tokens", api.tokens, methods=get),
        Route("/api/v1/tokens", api.create_token, methods=post),
        Route("/api/v1/tokens/{name}", api.revoke_token, methods=delete),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Guard, log=log)],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
    )
    app.router.redirect_slashes = False  # a path is either an endpoint or a 404, never a redirect
    return app


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


async def _answer(work: Awaitable[Any] | Callable[[], Any]) -> Any:
    """Run a call into the reconciler, its errors as API errors."""
    try:
        return await work if isinstance(work, Awaitable) else work()
    except NotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    except UsageError as exc:
        raise ApiError(422, str(exc)) from None
    except StorageError as exc:
        raise ApiError(503, str(exc)) from None
    except OrchreconError as exc:
        raise ApiError(409, str(exc)) from None


def _by(principal: Principal) -> str | None:
    return principal.email


class _Api:
    def __init__(self, reconciler: Reconciling, auth: Authenticator) -> None:
        self._r = reconciler
        self._auth = auth

    # -- health and metrics --------------------------------------------------------------------------

    async def healthz(self, _: Request) -> Response:
        return _json({"status": "alive"})

    async def readyz(self, _: Request) -> Response:
        reason = self._r.readiness()
        if reason is not None:
            return error_response(503, reason)
        return _json({"status": "ready"})

    async def metrics(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        if not may_scrape(principal):
            raise ApiError(
                403, f"token {principal.name!r} may not read metrics (runs:read over every orchestration, or admin)"
            )
        return Response(await _answer(self._r.metrics), media_type=CONTENT_TYPE_LATEST)

    # -- orchestrations ------------------------------------------------------------------------------

    async def orchestrations(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        query(request, ())
        require(principal, Action.READ)
        shown = readable(principal)
        found = await _answer(
            lambda: [self._r.orchestration(n) for n in self._r.orchestrations() if shown is None or n in shown]
        )
        return _json({"orchestrations": found})

    async def orchestration(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        name = _name(request)
        require(principal, Action.READ, name)
        return _json(await _answer(lambda: self._r.orchestration(name)))

    async def start(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        name = _name(request)
        require(principal, Action.TRIGGER, name)
        body = await read_object(request, {"tasks": Kind.NAMES, "skipTasks": Kind.NAMES})
        _stopping(self._r)
        record = await _answer(
            self._r.start(
                name,
                tasks=body.get("tasks", ()),
                skip=body.get("skipTasks", ()),
                by=_by(principal),
                token=principal.name,
            )
        )
        return _accepted(record)

    # -- runs ----------------------------------------------------------------------------------------

    async def runs(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        params = query(request, ("orchestration", "limit"))
        limit = _limit(params.get("limit"))
        orchestration = params.get("orchestration")
        if orchestration is not None and not names.is_name(orchestration):
            raise ApiError(422, f"orchestration: {names.shown(orchestration)} is not an orchestration name")
        require(principal, Action.READ, orchestration)
        within = None if orchestration is not None else readable(principal)
        found = await _answer(lambda: self._r.runs(orchestration, limit, within))
        return _json({"runs": found})

    async def run(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        run_id = _run_id(request)
        detail = await _answer(lambda: self._r.run(run_id))
        require(principal, Action.READ, detail["orchestration"])
        return _json(detail)

    async def retry(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        run_id = _run_id(request)
        require(principal, Action.TRIGGER, await _answer(lambda: self._r.run_orchestration(run_id)))
        body = await read_object(request, {"tasks": Kind.NAMES, "current": Kind.FLAG})
        _stopping(self._r)
        record = await _answer(
            self._r.retry(
                run_id,
                tasks=body.get("tasks", ()),
                current=body.get("current", False),
                by=_by(principal),
                token=principal.name,
            )
        )
        return _accepted(record)

    async def cancel(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        run_id = _run_id(request)
        require(principal, Action.TRIGGER, await _answer(lambda: self._r.run_orchestration(run_id)))
        await read_object(request, {})
        by = principal.email or f"token:{principal.name}"
        return _json(await _answer(self._r.cancel(run_id, by=by)), 202)

    # -- tables --------------------------------------------------------------------------------------

    async def table_updated(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        require(principal, Action.TABLES)
        table = request.path_params["table"]
        if not names.is_table(table):
            raise ApiError(
                422, f"table: {names.shown(table)} is not a table id (letters, digits, '_', '.', '-'; up to 200)"
            )
        if not self._r.knows_table(table):
            raise ApiError(404, f"no table {names.shown(table)}: no applied trigger or configuration names it")
        await read_object(request, {})
        _stopping(self._r)
        record = await _answer(self._r.table_updated(table, source=f"api token {principal.name}"))
        return _json({"table": table, "time": record["time"]}, 202)

    # -- tokens --------------------------------------------------------------------------------------

    async def tokens(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        require(principal, Action.ADMIN)
        listed = await self._in_token_thread(self._auth.tokens.list)
        return _json({"tokens": [_token_json(t) for t in listed]})

    async def create_token(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        require(principal, Action.ADMIN)
        fields = {"name": Kind.TEXT, "scopes": Kind.NAMES, "orchestrations": Kind.NAMES, "email": Kind.OPTIONAL_TEXT}
        body = await read_object(request, fields, required=("name", "scopes"))
        store = self._auth.tokens

        def create() -> tuple[str, Any]:
            if any(t.name == body["name"] for t in store.list()):
                raise OrchreconError(f"a token named {names.shown(body['name'])} exists (revoke it first)")
            secret = store.create(
                body["name"],
                scopes=body["scopes"],
                orchestrations=body.get("orchestrations", ()),
                email=body.get("email"),
            )
            return secret, next(t for t in store.list() if t.name == body["name"])

        secret, token = await self._in_token_thread(create)
        return _json({**_token_json(token), "token": secret}, 201)

    async def revoke_token(self, request: Request) -> Response:
        principal = await self._auth.principal(request)
        require(principal, Action.ADMIN)
        name = request.path_params["name"]
        if not names.is_name(name):
            raise ApiError(404, f"no token {names.shown(name)}")
        store = self._auth.tokens
        await self._in_token_thread(lambda: store.revoke(name))
        return _json({"revoked": name})

    async def _in_token_thread(self, call: Callable[[], Any]) -> Any:
        future = asyncio.get_running_loop().run_in_executor(self._auth.pool, call)
        return await _answer(future)


def _token_json(token: Any) -> dict[str, object]:
    return {
        "name": token.name,
        "scopes": list(token.scopes),
        "orchestrations": list(token.orchestrations),
        "email": token.email,
        "created": token.created,
        "lastUsed": token.last_used,
    }


def _accepted(record: Mapping[str, Any]) -> Response:
    run_id = record["run"]
    body = {
        "id": run_id,
        "orchestration": record["orchestration"],
        "status": "waiting",
        "trigger": record["trigger"],
        "by": record.get("by"),
    }
    if record.get("retryOf"):
        body["retryOf"] = record["retryOf"]
    return _json(body, 202, {"Location": f"/api/v1/runs/{run_id}"})


def _name(request: Request) -> str:
    name = request.path_params["name"]
    if not names.is_name(name):
        raise ApiError(404, f"no orchestration {names.shown(name)}")
    return str(name)


def _run_id(request: Request) -> str:
    run_id = request.path_params["run_id"]
    if not names.is_run_id(run_id):
        raise ApiError(404, f"no run {names.shown(run_id)}")
    return str(run_id)


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ApiError(422, f"limit: must be a whole number from 1 to {MAX_LIMIT}, not {names.shown(text, 40)}")
    return int(text)


def _stopping(reconciler: Reconciling) -> None:
    if reconciler.stopping:
        raise ApiError(503, "the reconciler is stopping")
