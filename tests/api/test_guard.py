"""The guard around the app: a bug is a JSON 500 and one log line with the traceback in a file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orchrecon.api.guard import Guard


async def _broken(_: Request) -> Response:
    raise RuntimeError("a bug\nwith a second line")


async def _echo(request: Request) -> Response:
    return Response(str(len(await request.body())))


def _ask(method: str, path: str, **options: object) -> tuple[httpx.Response, list[tuple[str, Mapping[str, object]]]]:
    said: list[tuple[str, Mapping[str, object]]] = []
    routes = [Route("/broken", _broken), Route("/echo", _echo, methods=["POST"])]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, log=lambda e, f: said.append((e, f)), limit=100)])

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.request(method, path, **options)  # type: ignore[arg-type]

    return asyncio.run(ask()), said


def test_an_exception_is_a_json_500_and_one_log_line_with_the_traceback_in_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # look at TMPDIR again
    answer, said = _ask("GET", "/broken")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"code": "internal", "message": "internal error (the reconciler's log says more)"}
    }
    [(event, fields)] = said
    assert (event, fields["method"], fields["error"]) == ("api error", "GET", "RuntimeError: a bug")
    [crash] = tmp_path.glob("orchrecon-crash-*.log")
    assert fields["detail"] == f"traceback in {crash}"
    assert "Traceback" in crash.read_text()


async def _chunks() -> AsyncIterator[bytes]:
    for _ in range(2):
        yield b"x" * 60


def test_a_streamed_body_over_the_limit_is_413_and_one_within_is_read() -> None:
    assert _ask("POST", "/echo", content=_chunks())[0].status_code == 413
    assert _ask("POST", "/echo", content=b"x" * 100)[0].text == "100"
    assert _ask("POST", "/echo", content=b"x" * 101)[0].status_code == 413
