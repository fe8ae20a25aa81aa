"""Benchmark the HTTP API: 100 concurrent clients triggering and polling runs and reporting table updates.

    python bench/api.py [--seconds 30] [--clients 100] [--orchestrations 20] [--processes 4] [--out DIR] [--check]

A real `orchrecon reconcile --listen 127.0.0.1:PORT` process serves a generated, committed repository of
`--orchestrations` orchestrations (`o-01` ...), each one task of its own configuration running `true` (so that
only the one-run-per-orchestration rule serializes them; a shared configuration would serialize them all), the
last `--triggered` of them with an event trigger on an external table (`in.c-ext.feed-N`, cool-down 1m). One API
token (`orchrecon tokens create bench --scope runs:trigger --scope runs:read --scope tables:write`, captured
from stdout as a user would) is used by every client.

`--clients` httpx clients (each its own AsyncClient and connection, spread over `--processes` client processes
so that one client event loop does not become the bottleneck it measures), for `--seconds`, each in a loop:
POST /api/v1/orchestrations/{random}/runs; on 202, GET /api/v1/runs/{id} every `--poll-interval` until the run
has ended (or the window closes); every `--table-every`-th round, first POST /api/v1/tables/{feed}/updated.
Latency is timed in the client, from before the request to the whole response. After the window, the runs
accepted are waited for (up to `--drain-seconds`), the reconciler is stopped with SIGTERM (it must exit 0), and
the ledger is read.

Printed: requests by endpoint and status (transport errors such as timeouts apart), every 5xx (target 0); runs
requested, answered 202, and `run.requested` records of this token in the ledger (target: each 202 id exactly
once in the ledger, no record without a 202, every such run ended); p50/p99 of each endpoint, and of
`GET /api/v1/runs/{id}` while runs execute (target p99 < 50 ms); table updates answered 202 vs `table.updated`
records, and the runs the triggers started. `--profile` runs the reconciler under cProfile and prints where its
event loop spends the time. Airflow's or Prefect's REST API is measured only if one is
installed on this machine; it is not installed by this script (the report says which, or that neither is).

It exits 0 whatever the figures are (`--check`: 1 when a target is missed), 1 when orchrecon fails (it does not
start, answers nothing, or does not stop cleanly), 2 on usage errors. Needs httpx (a dependency of orchrecon).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import pstats
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from figures import out_problem, positive, print_rows, print_targets, work_folder
from plan import print_stats
from reconcile import BenchError, commit_all, cpu_times, orchrecon_argv, orchrecon_source, progress, started, stop

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger, Position

TARGET_GET_P99_MS = 50.0
TOKEN_NAME = "bench"
READY_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 10.0
FINISHED = {"success", "warning", "error", "cancelled", "terminated"}

TRIGGER = "POST /api/v1/orchestrations/{name}/runs"
POLL = "GET /api/v1/runs/{id}"
PROBE = "GET /api/v1/runs/{id}, probe"
PROBE_INTERVAL_S = 0.02
TABLE = "POST /api/v1/tables/{table}/updated"


# --- the repository ------------------------------------------------------------------------------------------


def feed(i: int) -> str:
    return f"in.c-ext.feed-{i}"


def api_repository(root: Path, orchestrations: int, triggered: int) -> tuple[list[str], list[str]]:
    """A committed repository: orchestration o-NN runs configuration bench/o-NN (`true`, writing table
    in.c-bench.o-NN); the last `triggered` are triggered by one external table each. Returns the
    orchestration names and the external tables."""
    names = [f"o-{i:02d}" for i in range(1, orchestrations + 1)]
    (root / "configurations" / "bench").mkdir(parents=True)
    (root / "orchestrations").mkdir()
    tables: list[str] = []
    for i, name in enumerate(names, 1):
        (root / "configurations" / "bench" / f"{name}.yaml").write_text(
            "apiVersion: orchrecon/v1\nkind: Configuration\n"
            f"metadata: {{component: bench, name: {name}}}\n"
            f'spec:\n  run: {{command: ["true"]}}\n  outputs: [in.c-bench.{name}]\n',
            encoding="utf-8",
        )
        text = (
            "apiVersion: orchrecon/v1\nkind: Orchestration\n"
            f"metadata: {{name: {name}, description: API benchmark pipeline {i}}}\n"
            "spec:\n  phases:\n    - name: main\n      tasks:\n"
            f"        - {{name: task, config: bench/{name}}}\n"
        )
        if i > orchestrations - triggered:
            table = feed(len(tables) + 1)
            tables.append(table)
            text += f"  trigger: {{tables: [{table}], cooldown: 1m}}\n"
        (root / "orchestrations" / f"{name}.yaml").write_text(text, encoding="utf-8")
    commit_all(root, "API benchmark repository")
    return names, tables


def create_token(repo: Path, state: Path) -> str:
    """`orchrecon tokens create`, its stdout captured as `TOKEN=$(…)` would."""
    scopes = ("--scope", "runs:trigger", "--scope", "runs:read", "--scope", "tables:write")
    done = subprocess.run(
        orchrecon_argv(repo, state, "tokens", "create", TOKEN_NAME, *scopes),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    secret = done.stdout.removesuffix("\n")
    if done.returncode != 0 or not secret.startswith("orc_") or "\n" in secret:
        raise BenchError(f"tokens create exited {done.returncode}: {done.stderr.strip() or done.stdout!r}")
    return secret


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> float:
    """Wait until GET /readyz answers 200; the seconds it took."""
    start = time.perf_counter()
    last = "no answer"
    with httpx.Client(base_url=url, timeout=2.0) as client:
        while time.perf_counter() - start < READY_TIMEOUT_S:
            if proc.poll() is not None:
                raise BenchError(f"the reconciler exited {proc.returncode} before serving:\n{tail(log)}")
            try:
                answer = client.get("/readyz")
                if answer.status_code == 200:
                    return time.perf_counter() - start
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.TransportError as exc:
                last = type(exc).__name__
            time.sleep(0.05)
    raise BenchError(f"{url}/readyz did not answer 200 within {READY_TIMEOUT_S:.0f} s (last: {last}):\n{tail(log)}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "    (no output)"
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


# The client processes fork and build their clients first, then open the window together: a 100-client start
# timed from the first request measured the clients' own start-up (their SSL contexts) as server latency.
WARM_UP_S = 1.5
# The load clients, which a real deployment has on other machines, yield the 2 cores to the server and the probe
# (they still take what is left: about half of the machine under this load).
LOAD_NICENESS = 10


# --- the clients -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    endpoint: str
    status: int  # 0: a transport error (timeout, connection refused or reset)
    seconds: float
    at: float  # time.monotonic() when the request was sent
    run_status: str | None = None  # GET /runs/{id}: the run's status in the answer


@dataclass
class ClientResult:
    samples: list[Sample] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)  # run ids answered 202
    server_errors: list[str] = field(default_factory=list)  # "METHOD path -> status: body" of 5xx answers
    transport_errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Plan:
    url: str
    secret: str
    names: tuple[str, ...]
    tables: tuple[str, ...]
    start: float  # time.monotonic() (CLOCK_MONOTONIC, the same in every process of the machine): the window opens
    deadline: float  # and closes
    poll_interval: float
    table_every: int
    seed: int


async def timed(
    client: httpx.AsyncClient, result: ClientResult, endpoint: str, method: str, path: str
) -> httpx.Response | None:
    at = time.monotonic()
    start = time.perf_counter()
    try:
        answer = await client.request(method, path, json={} if method == "POST" else None)
        await answer.aread()
    except httpx.TransportError as exc:
        result.samples.append(Sample(endpoint, 0, time.perf_counter() - start, at))
        result.transport_errors[f"{endpoint}: {type(exc).__name__}"] += 1
        return None
    seconds = time.perf_counter() - start
    run_status = None
    if endpoint == POLL and answer.status_code == 200:
        run_status = str(answer.json().get("status"))
    result.samples.append(Sample(endpoint, answer.status_code, seconds, at, run_status))
    if answer.status_code >= 500:
        result.server_errors.append(f"{method} {path} -> {answer.status_code}: {answer.text[:300]}")
    return answer


async def one_client(plan: Plan, number: int, result: ClientResult) -> None:
    rng = random.Random(plan.seed * 1000 + number)
    headers = {"Authorization": f"Bearer {plan.secret}"}
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=plan.url, headers=headers, timeout=REQUEST_TIMEOUT_S, limits=limits) as c:
        await asyncio.sleep(plan.start - time.monotonic())  # built (its SSL context costs ~20 ms): wait for the others
        rounds = 0
        while time.monotonic() < plan.deadline:
            rounds += 1
            if plan.tables and (rounds - 1) % plan.table_every == 0:  # the first round, then every Nth
                await timed(c, result, TABLE, "POST", f"/api/v1/tables/{rng.choice(plan.tables)}/updated")
            answer = await timed(c, result, TRIGGER, "POST", f"/api/v1/orchestrations/{rng.choice(plan.names)}/runs")
            if answer is None or answer.status_code != 202:
                await asyncio.sleep(plan.poll_interval)  # an error: do not spin on it
                continue
            run_id = str(answer.json()["id"])
            result.accepted.append(run_id)
            while time.monotonic() < plan.deadline:
                await asyncio.sleep(plan.poll_interval)
                polled = await timed(c, result, POLL, "GET", f"/api/v1/runs/{run_id}")
                if polled is not None and polled.status_code == 200 and polled.json().get("status") in FINISHED:
                    break


def probe(plan: Plan) -> ClientResult:
    """One more client, alone in its process and with no event loop of its own: it starts a run, then
    asks for it every PROBE_INTERVAL_S until it has ended, and again. The load clients time their
    requests on event loops that share the 2 cores with 99 others, the server and the tasks, so their
    figures include their own wait for a turn; this one measures the server."""
    result = ClientResult()
    rng = random.Random(plan.seed)
    parts = urllib.parse.urlsplit(plan.url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=REQUEST_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {plan.secret}", "Content-Type": "application/json"}

    def ask(endpoint: str, method: str, path: str) -> dict[str, object] | None:
        at, start = time.monotonic(), time.perf_counter()
        try:
            connection.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            result.transport_errors[f"{endpoint}: {type(exc).__name__}"] += 1
            connection.close()
            return None
        seconds = time.perf_counter() - start
        data = json.loads(body) if answer.status in (200, 202) else None
        status = str(data.get("status")) if endpoint == PROBE and data else None
        result.samples.append(Sample(endpoint, answer.status, seconds, at, status))
        if answer.status >= 500:
            result.server_errors.append(f"{method} {path} -> {answer.status}: {body[:300]!r}")
        return data

    time.sleep(max(0.0, plan.start - time.monotonic()))
    while time.monotonic() < plan.deadline:
        started = ask(TRIGGER, "POST", f"/api/v1/orchestrations/{rng.choice(plan.names)}/runs")
        if started is None:
            time.sleep(plan.poll_interval)
            continue
        run_id = str(started["id"])
        result.accepted.append(run_id)
        while time.monotonic() < plan.deadline:
            time.sleep(PROBE_INTERVAL_S)
            polled = ask(PROBE, "GET", f"/api/v1/runs/{run_id}")
            if polled is not None and polled.get("status") in FINISHED:
                break
    return result


async def clients(plan: Plan, numbers: Sequence[int]) -> ClientResult:
    result = ClientResult()
    async with asyncio.TaskGroup() as group:
        for n in numbers:
            group.create_task(one_client(plan, n, result))
    return result


def client_process(plan: Plan, numbers: Sequence[int]) -> ClientResult:
    """The clients `numbers`; the probe when `numbers` is empty."""
    if not numbers:
        return probe(plan)
    os.nice(LOAD_NICENESS)
    return asyncio.run(clients(plan, numbers))


def load(plan: Plan, clients_count: int, processes: int) -> ClientResult:
    """Every client, spread over `processes` forked processes, and the probe in one more."""
    groups: list[list[int]] = [list(range(p, clients_count, processes)) for p in range(processes)]
    groups.append([])  # the probe
    with multiprocessing.get_context("fork").Pool(len(groups)) as pool:
        parts = pool.starmap(client_process, [(plan, g) for g in groups])
    merged = ClientResult()
    for part in parts:
        merged.samples += part.samples
        merged.accepted += part.accepted
        merged.server_errors += part.server_errors
        merged.transport_errors += part.transport_errors
    return merged


# --- the ledger ------------------------------------------------------------------------------------------------


def drain(ledger: Ledger, accepted: set[str], seconds: float) -> tuple[set[str], float]:
    """Wait until every accepted run has a `run.finished` record, up to `seconds`; the ones that have
    not, and how long it took."""
    start = time.perf_counter()
    position: Position | None = None
    unfinished = set(accepted)
    while unfinished and time.perf_counter() - start < seconds:
        start_at = position
        for at, record in ledger.read(start_at):
            position = at  # the next read starts after the last record seen
            if record.get("type") == "run.finished":
                unfinished.discard(str(record.get("run")))
        if unfinished:
            time.sleep(0.1)
    return unfinished, time.perf_counter() - start


@dataclass(frozen=True)
class Accounting:
    ours: Counter[str]  # run id -> `run.requested` records of this token (trigger api)
    other_requested: Counter[str]  # trigger -> other `run.requested` records (the triggers the tables fired)
    finished: set[str]
    table_updates: int  # table.updated records of the feeds (runs' own outputs apart)
    decisions: Counter[str]  # "fired" or the suppression's reason -> trigger decisions


def account(ledger: Ledger, tables: Sequence[str]) -> Accounting:
    ours: Counter[str] = Counter()
    other: Counter[str] = Counter()
    finished: set[str] = set()
    updates = 0
    decisions: Counter[str] = Counter()
    feeds = set(tables)
    for _, r in ledger.read():
        kind = r.get("type")
        if kind == "run.requested":
            cause = r.get("cause")
            token = cause.get("token") if isinstance(cause, dict) else None
            if r.get("trigger") == "api" and token == TOKEN_NAME:
                ours[str(r.get("run"))] += 1
            else:
                other[str(r.get("trigger"))] += 1
        elif kind == "run.finished":
            finished.add(str(r.get("run")))
        elif kind == "table.updated" and r.get("table") in feeds:
            updates += 1
        elif kind == "trigger.fired":
            decisions["fired"] += 1
        elif kind == "trigger.suppressed":
            decisions[str(r.get("reason"))] += 1
    return Accounting(ours, other, finished, updates, decisions)


# --- report ----------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (1..99) in milliseconds; NaN without values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0] * 1000
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


@dataclass(frozen=True)
class Results:
    clients: int
    seconds: float
    load: ClientResult
    accounting: Accounting
    unfinished: set[str]
    drain_seconds: float
    ready_seconds: float
    stop_seconds: float
    server_cpu_seconds: float
    orchestrations: int
    triggered: int


def comparison() -> str:
    found = [tool for tool in ("airflow", "prefect") if shutil.which(tool)]
    if found:
        return f"{', '.join(found)} found on PATH, but this script does not drive it yet: not compared"
    return "neither Airflow nor Prefect is installed on this machine: not compared (this script installs neither)"


def report(r: Results) -> list[bool | None]:
    samples = r.load.samples
    by_status = Counter((s.endpoint, s.status) for s in samples)
    rows: list[tuple[str, str]] = [
        (
            "load",
            f"{r.clients} clients for {r.seconds:.0f} s on {r.orchestrations} orchestrations "
            f"({r.triggered} with a table trigger)",
        ),
        ("reconciler: /readyz 200 after / SIGTERM to exit 0", f"{r.ready_seconds:.2f} s / {r.stop_seconds:.2f} s"),
        ("reconciler CPU (user+sys, with its tasks) over the run", f"{r.server_cpu_seconds:.1f} s"),
    ]
    for endpoint in (TRIGGER, POLL, TABLE, PROBE):
        counts = ", ".join(
            f"{'transport error' if status == 0 else status}: {n}"
            for (e, status), n in sorted(by_status.items())
            if e == endpoint
        )
        times = [s.seconds for s in samples if s.endpoint == endpoint and s.status]
        rows.append((f"{endpoint}", counts or "none"))
        rows.append(
            (
                "  p50 / p99 / max",
                f"{percentile(times, 50):.1f} / {percentile(times, 99):.1f} / {max(times, default=0) * 1000:.1f} ms",
            )
        )
    total = sum(1 for s in samples if s.status)
    rows.append(("requests answered, per second", f"{total} ({total / r.seconds:.0f}/s)"))
    executing = [s.seconds for s in samples if s.endpoint == POLL and s.status == 200 and s.run_status not in FINISHED]
    rows.append(
        (
            f"{POLL} answering a run not yet ended, p50 / p99",
            f"{percentile(executing, 50):.1f} / {percentile(executing, 99):.1f} ms ({len(executing)} requests)",
        )
    )
    probing = [s.seconds for s in samples if s.endpoint == PROBE and s.status == 200 and s.run_status not in FINISHED]
    rows.append(
        (
            "  the probe's, answering a run not yet ended, p50 / p99",
            f"{percentile(probing, 50):.1f} / {percentile(probing, 99):.1f} ms ({len(probing)} requests)",
        )
    )
    errors = sum(n for (_, status), n in by_status.items() if status >= 500)
    rows.append(("5xx answers", str(errors)))
    for line in r.load.server_errors[:5]:
        rows.append(("  ", line))
    for what, n in sorted(r.load.transport_errors.items()):
        rows.append(("  transport error", f"{what}: {n}"))

    requested = sum(n for (e, _), n in by_status.items() if e == TRIGGER)
    accepted = r.load.accepted
    ours = r.accounting.ours
    duplicated = sorted(i for i, n in ours.items() if n > 1)
    missing = sorted(set(accepted) - set(ours))
    unasked = sorted(set(ours) - set(accepted))
    repeated_ids = len(accepted) - len(set(accepted))
    runs_ok = not duplicated and not missing and not unasked and not repeated_ids and not r.unfinished
    rows += [
        (
            "runs requested / answered 202 / run.requested in the ledger",
            f"{requested} / {len(accepted)} / {ours.total()}",
        ),
        ("  202 ids missing from the ledger / recorded twice", f"{len(missing)} / {len(duplicated)}"),
        ("  recorded with no 202 (a client timeout) / one id in two 202s", f"{len(unasked)} / {repeated_ids}"),
        ("  of those, not ended after the drain", f"{len(r.unfinished)} (waited {r.drain_seconds:.1f} s)"),
        ("  ended, per second of load", f"{len(set(accepted) & r.accounting.finished) / r.seconds:.1f}"),
        (
            "table updates answered 202 / table.updated in the ledger",
            f"{by_status[(TABLE, 202)]} / {r.accounting.table_updates}",
        ),
        (
            "trigger decisions on those updates",
            # The clients start every orchestration again and again, so a trigger's cool-down (counted from the
            # orchestration's last run, whatever started it) rarely passes, and an update older than the last run's
            # start waits for the next: "cooldown" and "waiting" are the right answers here.
            ", ".join(f"{t}: {n}" for t, n in sorted(r.accounting.decisions.items())) or "none",
        ),
        (
            "other runs requested (by trigger)",
            ", ".join(f"{t}: {n}" for t, n in sorted(r.accounting.other_requested.items())) or "none",
        ),
        ("Airflow / Prefect", comparison()),
    ]
    for i in missing[:5]:
        rows.append(("  missing", i))
    for i in duplicated[:5]:
        rows.append(("  duplicated", i))
    print_rows(rows)

    polls = [s.seconds for s in samples if s.endpoint == PROBE and s.status]
    p99 = percentile(polls, 99)
    tables_ok = by_status[(TABLE, 202)] == r.accounting.table_updates
    return print_targets(
        [
            ("no 5xx answer", str(errors), errors == 0),
            ("every 202 exactly one run, none lost or duplicated", f"{len(accepted)}", runs_ok and bool(accepted)),
            (
                "every table update 202 recorded once",
                f"{by_status[(TABLE, 202)]}",
                tables_ok if by_status[(TABLE, 202)] else None,
            ),
            (
                f"{POLL} p99 under {TARGET_GET_P99_MS:.0f} ms (the probe)",
                f"{p99:.1f} ms",
                p99 < TARGET_GET_P99_MS if polls else None,
            ),
        ]
    )


# --- main ------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=30.0, help="the load window (default 30)")
    parser.add_argument("--clients", type=positive, default=100, help="concurrent clients (default 100)")
    parser.add_argument("--processes", type=positive, default=4, help="client processes (default 4)")
    parser.add_argument("--orchestrations", type=positive, default=20, help="orchestrations (default 20)")
    parser.add_argument("--triggered", type=int, default=5, help="of them, with a table trigger (default 5)")
    parser.add_argument(
        "--poll-interval", type=float, default=0.1, help="seconds between a client's polls of its run (default 0.1)"
    )
    parser.add_argument(
        "--table-every", type=positive, default=5, help="a client reports a table update every N rounds (default 5)"
    )
    parser.add_argument("--drain-seconds", type=float, default=120.0, help="longest wait for accepted runs to end")
    parser.add_argument("--seed", type=int, default=2026, help="seed of the clients' choices (default 2026)")
    parser.add_argument("--out", type=Path, help="work here (an empty or new folder) and keep repository and logs")
    parser.add_argument(
        "--profile", action="store_true", help="run the reconciler under cProfile; print where it spends"
    )
    parser.add_argument("--top", type=positive, default=20, help="functions shown per profile listing (default 20)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.poll_interval <= 0 or args.drain_seconds <= 0:
        parser.error("--seconds, --poll-interval and --drain-seconds must be positive")
    if not 0 <= args.triggered <= args.orchestrations:
        parser.error("--triggered must be between 0 and --orchestrations")
    if args.processes > args.clients:
        parser.error("--processes cannot exceed --clients")
    return args


def run(args: argparse.Namespace, work: Path) -> Results:
    repo, state, log = work / "repo", work / "state", work / "reconcile.log"
    repo.mkdir(parents=True)
    names, tables = api_repository(repo, args.orchestrations, args.triggered)
    secret = create_token(repo, state)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    progress(f"generated {len(names)} orchestrations in {repo}; token {TOKEN_NAME} created; serving on {url}")
    argv = orchrecon_argv(repo, state, "reconcile", "--listen", f"127.0.0.1:{port}")
    if args.profile:  # the event loop runs in the main thread, which is the one cProfile sees
        argv = [argv[0], "-m", "cProfile", "-o", str(work / "reconcile.prof"), *argv[1:]]
    with started(argv, log) as proc:
        ready = wait_serving(proc, url, log)
        cpu_before = sum(cpu_times(proc.pid))
        start = time.monotonic() + WARM_UP_S
        plan = Plan(
            url=url,
            secret=secret,
            names=tuple(names),
            tables=tuple(tables),
            start=start,
            deadline=start + args.seconds,
            poll_interval=args.poll_interval,
            table_every=args.table_every,
            seed=args.seed,
        )
        progress(f"{args.clients} clients for {args.seconds:g} s")
        result = load(plan, args.clients, args.processes)
        if proc.poll() is not None:
            raise BenchError(f"the reconciler exited {proc.returncode} under load:\n{tail(log)}")
        ledger = Ledger(state / "ledger", SystemClock())
        progress(f"{len(result.accepted)} runs accepted; waiting for them to end")
        unfinished, drained = drain(ledger, set(result.accepted), args.drain_seconds)
        cpu = sum(cpu_times(proc.pid)) - cpu_before
        stopped = stop(proc, 60.0, log)
    accounting = account(ledger, tables)
    return Results(
        clients=args.clients,
        seconds=args.seconds,
        load=result,
        accounting=accounting,
        unfinished=unfinished,
        drain_seconds=drained,
        ready_seconds=ready,
        stop_seconds=stopped,
        server_cpu_seconds=cpu,
        orchestrations=args.orchestrations,
        triggered=args.triggered,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = out_problem(args.out)
    if problem:
        print(f"api.py: {problem}", file=sys.stderr)
        return 2
    with work_folder(args.out, "orchrecon-bench-api-", args.seed, f"httpx {httpx.__version__}") as work:
        print(f"orchrecon: {orchrecon_source()}")
        try:
            results = run(args, work)
        except BenchError as exc:
            print(f"api.py: {exc}", file=sys.stderr)
            return 1
        print()
        verdicts = report(results)
        if args.profile:
            print(
                f"\n--- cProfile: the reconciler's main thread (event loop), whole process, {args.seconds:g} s of load"
            )
            print_stats(pstats.Stats(str(work / "reconcile.prof")), args.top)
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
