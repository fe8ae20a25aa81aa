"""No secret leaks anywhere the API or the reconciler writes, and garbage never gets a 5xx."""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from tests.api.rawhttp import Connection
from tests.api.server import Server, wait_until

GARBAGE_REQUESTS = 10_000
ALLOWED = {401, 404, 405, 413, 422}
CONCURRENCY = 8


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_no_token_is_in_the_ledger_logs_status_reports_metrics_or_error_bodies(api: Server) -> None:
    daily = api.orchestration_token("daily")
    bodies: list[str] = []
    for name in api.secrets:
        for method, path in (
            ("POST", "/api/v1/orchestrations/daily/runs"),
            ("POST", "/api/v1/tables/in.c-ex.a/updated"),
            ("GET", "/api/v1/runs"),
            ("GET", "/api/v1/tokens"),
            ("GET", "/metrics"),
            ("POST", "/api/v1/orchestrations/weekly/runs"),
            ("GET", "/api/v1/orchestrations/nope"),
        ):
            bodies.append(api.request(method, path, name, json={"tasks": ["nope"]} if "runs" in path else None).text)
    bodies.append(api.request("GET", "/api/v1/runs", daily).text)
    bodies.append(api.request("GET", f"/api/v1/orchestrations/{api.secrets['admin']}", "admin").text)
    bodies.append(api.request("POST", f"/api/v1/tables/{api.secrets['admin']}/updated", "admin").text)
    run_id = api.request("POST", "/api/v1/orchestrations/daily/runs", "trigger-all").json()["id"]
    api.finished(run_id)  # its task ran with the orchestration token in its environment
    api.cli("report")
    secrets = [*api.secrets.values(), daily]
    for body in bodies:
        assert not [s for s in secrets if s in body], body
    written = [p for p in _files(api.state) if p.name != "orchestration-tokens.json"]
    assert any(p.parent.name == "ledger" for p in written)
    assert any(p.suffix == ".log" for p in written)
    assert any(p.parent.name == "reports" for p in written)
    for file in [*written, api.out, api.err]:
        data = file.read_bytes()
        assert not [s for s in secrets if s.encode() in data], file
    for file in _files(api.state / "secrets"):  # only a salted hash of an API token is kept
        data = file.read_bytes()
        assert not [s for s in api.secrets.values() if s.encode() in data or s[4:].encode() in data], file


def _segment(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return "zz" + "".join(rng.choices(string.ascii_lowercase + string.digits + "-", k=rng.randrange(1, 30)))
    if kind == 1:
        return rng.choice(["..", ".", "%2e%2e", "%2F", "..%2F..", "%00", "%ff", "~", "-", "_"])
    if kind == 2:
        return quote("".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(1, 40))), safe="")
    if kind == 3:
        return quote("".join(rng.choices(string.printable, k=rng.randrange(1, 60))), safe="")
    return "x" * rng.randrange(1, 3000)


def _path(rng: random.Random) -> str:
    prefix = rng.choice(
        [
            "/api/v1/orchestrations/{}",
            "/api/v1/orchestrations/{}/runs",
            "/api/v1/runs/{}",
            "/api/v1/runs/{}/retry",
            "/api/v1/runs/{}/cancel",
            "/api/v1/tables/{}/updated",
            "/api/v1/tokens/{}",
            "/api/v1/{}",
            "/{}",
            "/api/v1/runs?limit={}",
            "/api/v1/runs?orchestration={}",
            "/api/v1/runs?{}=1",
        ]
    )
    return prefix.format(_segment(rng))


def _bearer(rng: random.Random, real: list[str]) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        return ""
    if kind == 1:
        token = rng.choice(real)
        i = rng.randrange(len(token))
        return "Bearer " + token[:i] + rng.choice(string.ascii_letters.replace(token[i], "")) + token[i + 1 :]
    if kind == 2:
        return "Bearer orc_" + "".join(rng.choices(string.ascii_letters + string.digits + "-_", k=43))
    if kind == 3:
        return rng.choice(["Basic ", "bearer", "Bearer", "Token ", "Bearer  "]) + rng.choice(real)[: rng.randrange(60)]
    visible = "".join(chr(c) for c in range(0x21, 0x7F))
    return "Bearer " + "".join(rng.choices(visible + " ", k=rng.randrange(1, 700))).strip()


def _body(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return b""
    if kind == 1:
        return rng.randbytes(rng.randrange(1, 2000))
    if kind == 2:
        data = {
            "x" + "".join(rng.choices(string.ascii_letters, k=5)): _value(rng, 3) for _ in range(rng.randrange(1, 5))
        }
        data.update({rng.choice(["tasks", "skipTasks", "name", "scopes", "current"]): _value(rng, 2)})
        return json.dumps(data).encode()
    if kind == 3:
        return json.dumps(_value(rng, 4)).encode()
    if kind == 4:
        return b"[" * rng.randrange(1, 5000)
    return b"{" + b" " * (64 * 1024 + rng.randrange(1, 5000)) + b"}"


def _value(rng: random.Random, depth: int) -> object:
    kind = rng.randrange(7 if depth else 4)
    if kind == 0:
        return rng.randrange(-(10**12), 10**12)
    if kind == 1:
        return "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(30)))
    if kind == 2:
        return rng.choice([None, True, False, 1.5e308])
    if kind == 3:
        return "zz-no-such-task"
    if kind in (4, 5):
        return [_value(rng, depth - 1) for _ in range(rng.randrange(4))]
    return {"k" + str(i): _value(rng, depth - 1) for i in range(rng.randrange(3))}


async def _garbage(api: Server, seed: int) -> dict[int, list[str]]:
    rng = random.Random(seed)
    real = [api.secrets["admin"], api.secrets["trigger-all"], api.secrets["tables"]]
    requests = []
    for _ in range(GARBAGE_REQUESTS):
        method = rng.choice(["GET", "POST", "POST", "DELETE", "PUT", "PATCH"])
        # A third get the admin token, so that garbage reaches the checks behind authentication.
        auth = "Bearer " + api.secrets["admin"] if rng.random() < 1 / 3 else _bearer(rng, real)
        requests.append((method, _path(rng), auth, _body(rng)))
    seen: dict[int, list[str]] = {}
    queue = iter(requests)
    where = urlsplit(api.url)

    async def worker() -> None:
        connection = Connection(where.hostname or "", where.port or 0)
        try:
            for method, path, auth, body in queue:
                headers = {"Authorization": auth.strip()} if auth.strip() else {}
                answer = await connection.request(method, path, headers, body)
                if answer.status not in ALLOWED or "error" not in json.loads(answer.body):
                    seen.setdefault(answer.status, []).append(f"{method} {path[:100]} -> {answer.body[:200]!r}")
                else:
                    seen.setdefault(answer.status, [])
        finally:
            await connection.close()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return seen


def test_ten_thousand_garbage_requests_get_only_4xx_json_errors(api: Server) -> None:
    started = time.monotonic()
    seen = asyncio.run(_garbage(api, seed=12))
    bad = {status: found[:5] for status, found in seen.items() if found}
    assert not bad
    assert set(seen) <= ALLOWED
    assert set(seen) == ALLOWED  # each kind of refusal was reached
    assert time.monotonic() - started < 90
    assert api.request("GET", "/healthz").status_code == 200
    assert "api error" not in api.out.read_text()
    wait_until(lambda: api.process.poll() is None, "the reconciler to be alive")
