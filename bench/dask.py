"""Issue 13's W2 on a local Dask cluster: the dask executor's per-task dispatch overhead against the local one.

    python bench/dask.py [--runs 5] [--nthreads 4] [--prefect-python /tmp/prefect/bin/python] [--profile] [--check]

The cluster: `dask scheduler` and 2 `dask worker --no-nanny
--nthreads 4` on 127.0.0.1, so its 8 threads can run the 8 tasks that maxParallelJobs lets out at once. The
workload, W2, in a committed git repository: one phase of 200 tasks of `true` (maxParallelJobs 8), then a phase
of 1. `orchrecon run w2` with the local executor and with `--dask-scheduler`, interleaved (a warm-up of each
first, reported apart; the order in a round is drawn from `--seed`), each on its own state directory.

Figures, medians of `--runs`: whole-process wall time, and the run's wall time from the ledger (run.started to
run.finished). Per task, the ledger's `durationMs` (task.started to task.finished): the local executor's median
is what `true` and a local spawn cost; the dispatch overhead is each remote task's duration minus that median
(all rounds' tasks pooled; median and p90). For comparison, run in each round too, the way orchrecon does not
take (it sends each task straight to its worker): a bare asyncio Dask client that submits the same 200 + 1
tasks (a function running `true`) through the scheduler, pinned to the workers in turn, 8 at once; its
per-task figure is submission to result. Targets: overhead under 10 ms median, and the dask run's wall time
within 2x of the local one's. The added run wall time per task (the dask run's minus the local run's, over
the tasks) is printed beside it: with 8 tasks in flight a task's duration is mostly its wait for a core, which
the median counts and a throughput figure does not.

With `--prefect-python` (a separate venv with `pip install prefect prefect-dask`): the same W2 as a Prefect flow
with `DaskTaskRunner(address=<the same cluster>)`, 200 tasks each running `true` in a subprocess, at most 8
submitted and unfinished at once (a semaphore released by each future's callback), then 1; `--runs` flow runs
in one process after a warm-up, reporting to a `prefect server start` of their own (the tasks on the workers
report to it too). The scheduler and workers then also find Prefect: a preload appends that venv's
site-packages to their `sys.path` (after their own, so orchrecon's side imports what it always does). Without
it, no comparison is printed.

`--profile` runs one more dask run under cProfile and prints where the orchrecon process spends its time.
It exits 0 whatever the figures are (`--check`: 1 when a target is missed), 1 when orchrecon or the cluster
fails, 2 on usage errors. This file shares its name with the `dask` package: it imports neither dask nor
distributed (what needs them runs in other processes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pstats
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from figures import out_problem, positive, print_rows, print_targets, work_folder
from plan import print_stats
from reconcile import BenchError, commit_all, orchrecon_argv, orchrecon_source, progress
from run_overhead import write_repo

NAME = "w2"
PHASES = [200, 1]
MAX_PARALLEL = 8
WORKERS = 2
TARGET_OVERHEAD_MS = 10.0
TARGET_RATIO = 2.0
START_TIMEOUT = 60.0
RUN_TIMEOUT = 600.0
DASK = str(Path(sys.executable).parent / "dask")
CLUSTER_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}

WAIT_FOR_WORKERS = """
import sys
from distributed import Client
with Client(sys.argv[1], timeout=60) as client:
    client.wait_for_workers(int(sys.argv[2]), timeout=60)
"""

# What the scheduler's way costs for W2 here, which orchrecon does not take: a bare asyncio client submits each
# task pinned to a worker in turn (pure=False, retries=0), at most 8 at once; each runs `true` in a subprocess.
DASK_FLOOR = """
import asyncio, json, subprocess, sys, time
from distributed import Client

def true(i):
    subprocess.run(["true"], check=True)
    return {"returncode": 0}

async def main():
    client = await Client(sys.argv[1], asynchronous=True)
    workers = sorted((await client.scheduler.identity())["workers"])
    slots = asyncio.Semaphore(int(sys.argv[2]))
    durations = []

    async def one(n, i):
        async with slots:
            start = time.perf_counter()
            key = f"floor-{n}-{i}-{time.time_ns()}"
            await client.submit(true, i, key=key, workers=[workers[i % len(workers)]], pure=False, retries=0)
            durations.append((time.perf_counter() - start) * 1000)

    start = time.perf_counter()
    for n, count in enumerate(int(c) for c in sys.argv[3].split(",")):
        await asyncio.gather(*(one(n, i) for i in range(count)))
    print(json.dumps({"seconds": time.perf_counter() - start, "tasks_ms": durations}))
    await client.close()

asyncio.run(main())
"""

PREFECT_INFO = """
import json, sysconfig
from importlib import metadata
print(json.dumps({
    "prefect": metadata.version("prefect"),
    "prefect-dask": metadata.version("prefect-dask"),
    "distributed": metadata.version("distributed"),
    "site": sysconfig.get_paths()["purelib"],
}))
"""

PRELOAD = """
import sys
sys.path.append({site!r})
"""

PREFECT_FLOW = """
import json, subprocess, sys, threading, time
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

address, runs, parallel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
phases = [int(n) for n in sys.argv[4].split(",")]

@task(cache_policy=NO_CACHE, retries=0)
def true(i: int) -> None:
    subprocess.run(["true"], check=True)

def phase(count: int) -> None:
    slots = threading.Semaphore(parallel)
    futures = []
    for i in range(count):
        slots.acquire()
        future = true.submit(i)
        future.add_done_callback(lambda _: slots.release())
        futures.append(future)
    for future in futures:
        future.result()

@flow(task_runner=DaskTaskRunner(address=address), log_prints=False)
def w2() -> None:
    for count in phases:
        phase(count)

for _ in range(runs + 1):
    start = time.perf_counter()
    w2()
    print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
"""


# --- the cluster -----------------------------------------------------------------------------------------------


@dataclass
class Cluster:
    address: str
    processes: list[subprocess.Popen[bytes]]


def _wait_for_address(scheduler: subprocess.Popen[bytes], path: Path, log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if scheduler.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"the Dask scheduler did not start:\n{log.read_text(errors='replace')}")
        try:
            return str(json.loads(path.read_text(encoding="utf-8"))["address"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            time.sleep(0.05)


@contextmanager
def cluster(work: Path, nthreads: int, prefect_site: str | None, prefect_api: str | None) -> Iterator[Cluster]:
    """A scheduler and WORKERS workers of `nthreads` threads each, all registered; killed on the way out."""
    env = {**os.environ, **CLUSTER_ENV}
    if prefect_api is not None:  # Prefect's task engine on a worker reports to the flow's API server
        env.update(prefect_env(work, prefect_api))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        preload: list[str] = []
        if prefect_site is not None:  # the scheduler unpickles Prefect's task specs, the workers run them
            (work / "prefect_path.py").write_text(PRELOAD.format(site=prefect_site), encoding="utf-8")
            preload = ["--preload", str(work / "prefect_path.py")]
        log = work / "scheduler.log"
        scheduler_file = ["--scheduler-file", str(work / "scheduler.json"), *preload]
        with log.open("ab") as out:
            scheduler = subprocess.Popen(
                [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", *scheduler_file],
                stdout=out,
                stderr=out,
                env=env,
                cwd=work,
            )
        processes.append(scheduler)
        address = _wait_for_address(scheduler, work / "scheduler.json", log)
        for n in range(WORKERS):
            name = f"worker{n}"
            options = ["--no-nanny", "--no-dashboard", "--local-directory", str(work / name)]
            with (work / f"{name}.log").open("ab") as out:
                processes.append(
                    subprocess.Popen(
                        [DASK, "worker", address, "--name", name, "--nthreads", str(nthreads), *options, *preload],
                        stdout=out,
                        stderr=out,
                        env=env,
                        cwd=work,
                    )
                )
        done = subprocess.run(
            [sys.executable, "-c", WAIT_FOR_WORKERS, address, str(WORKERS)],
            capture_output=True,
            text=True,
            check=False,
            cwd=work,
            timeout=START_TIMEOUT * 2,
        )
        if done.returncode != 0:
            raise BenchError(f"the Dask workers did not register:\n{done.stderr[-2000:]}")
        yield Cluster(address, processes)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)


# --- orchrecon runs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    whole: float  # seconds, the process from start to exit
    inside: float  # seconds, run.started to run.finished
    tasks_ms: list[int]  # task.finished durationMs of each task
    workers: Counter[str]  # task.started worker -> tasks (empty for local runs)


@dataclass
class Side:
    warmup: Run | None = None
    runs: list[Run] = field(default_factory=list)

    def median_whole(self) -> float:
        return statistics.median(r.whole for r in self.runs)

    def median_inside(self) -> float:
        return statistics.median(r.inside for r in self.runs)

    def tasks_ms(self) -> list[int]:
        return [ms for r in self.runs for ms in r.tasks_ms]


def latest_run(state: Path) -> list[dict[str, object]]:
    """The records of the run started last in the ledger."""
    records = [
        json.loads(line)
        for segment in sorted((state / "ledger").glob("*.jsonl"))
        for line in segment.read_text(encoding="utf-8").splitlines()
    ]
    run_id = next(r["run"] for r in reversed(records) if r["type"] == "run.started")
    return [r for r in records if r.get("run") == run_id]


def read_run(state: Path, whole: float) -> Run:
    from datetime import datetime  # noqa: PLC0415

    records = latest_run(state)
    times = {
        r["type"]: datetime.fromisoformat(str(r["time"]).replace("Z", "+00:00"))
        for r in records
        if r["type"] in ("run.started", "run.finished")
    }
    finished = [r for r in records if r["type"] == "task.finished"]
    failed = [r for r in finished if r.get("status") != "success"]
    if failed or len(finished) != sum(PHASES):
        raise BenchError(f"{len(finished)} tasks finished, {len(failed)} not successfully: {failed[:3]}")
    workers = Counter(str(r["worker"]) for r in records if r["type"] == "task.started" and "worker" in r)
    return Run(
        whole=whole,
        inside=(times["run.finished"] - times["run.started"]).total_seconds(),
        tasks_ms=[int(str(r["durationMs"])) for r in finished],
        workers=workers,
    )


def orchrecon_run(repo: Path, state: Path, work: Path, extra: Sequence[str], log: Path) -> Run:
    argv = orchrecon_argv(repo, state, "run", NAME, *extra)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=work, timeout=RUN_TIMEOUT)
    whole = time.perf_counter() - start
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise BenchError(f"orchrecon run {' '.join(extra)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return read_run(state, whole)


def measure(repo: Path, work: Path, address: str, runs: int, seed: int) -> tuple[Side, Side, list[Floor]]:
    local, remote, floors = Side(), Side(), []
    sides = {
        "local": (local, work / "state-local", ()),
        "dask": (remote, work / "state-dask", ("--dask-scheduler", address)),
    }
    draw = random.Random(seed)
    for round_ in range(runs + 1):
        order = ["local", "dask", "floor"]
        draw.shuffle(order)
        for name in order:
            if name == "floor":
                progress(f"{'warm-up' if round_ == 0 else f'round {round_}/{runs}'}: bare Dask client")
                floor = dask_floor(work, address)
                if round_ > 0:
                    floors.append(floor)
                continue
            side, state, extra = sides[name]
            progress(f"{'warm-up' if round_ == 0 else f'round {round_}/{runs}'}: {name}")
            result = orchrecon_run(repo, state, work, extra, work / f"run-{name}.log")
            if round_ == 0:
                side.warmup = result
            else:
                side.runs.append(result)
    return local, remote, floors


def profile_dask(repo: Path, work: Path, address: str, top: int) -> None:
    out = work / "dask.prof"
    argv = orchrecon_argv(repo, work / "state-dask", "run", NAME, "--dask-scheduler", address)
    start = time.perf_counter()
    subprocess.run(
        [argv[0], "-m", "cProfile", "-o", str(out), *argv[1:]],
        capture_output=True,
        check=True,
        cwd=work,
        timeout=RUN_TIMEOUT,
    )
    print(f"\n--- cProfile: orchrecon run {NAME} --dask-scheduler, whole process ({time.perf_counter() - start:.1f} s)")
    print_stats(pstats.Stats(str(out)), top)


@dataclass(frozen=True)
class Floor:
    seconds: float  # W2 from the first submission to the last result
    tasks_ms: list[float]  # submission to result, each task


def dask_floor(work: Path, address: str) -> Floor:
    argv = [sys.executable, "-c", DASK_FLOOR, address, str(MAX_PARALLEL), ",".join(map(str, PHASES))]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=work, timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"the bare Dask client failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout)
    return Floor(seconds=found["seconds"], tasks_ms=found["tasks_ms"])


# --- Prefect -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefect:
    versions: str
    warmup: float = 0.0
    runs: list[float] = field(default_factory=list)
    whole: float = 0.0  # the process, with its temporary API server and the warm-up
    absent: str | None = None  # why there is no comparison


def prefect_info(python: Path | None, work: Path) -> tuple[dict[str, str] | None, str]:
    """Prefect's versions and site-packages in the venv of `python`, or None and why not."""
    if python is None:
        return None, "not measured (no --prefect-python; see the docstring)"
    try:
        done = subprocess.run(
            [str(python), "-c", PREFECT_INFO], capture_output=True, text=True, check=False, cwd=work, timeout=120
        )
    except OSError as exc:
        return None, f"absent ({python}: {exc.strerror})"
    if done.returncode != 0:
        return (
            None,
            f"absent ({python} cannot import prefect and prefect-dask: {done.stderr.strip().splitlines()[-1:]})",
        )
    info: dict[str, str] = json.loads(done.stdout)
    return info, f"prefect {info['prefect']}, prefect-dask {info['prefect-dask']}, distributed {info['distributed']}"


def prefect_env(work: Path, api: str | None) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(work / "prefect-home"),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        **({"PREFECT_API_URL": api} if api else {}),
    }


@contextmanager
def prefect_server(python: Path | None, work: Path) -> Iterator[str | None]:
    """`prefect server start` on a free port, its API's URL once it answers (None without `python`): the flow and
    the tasks on the workers report to it (a temporary server of the flow's own is not reachable from them)."""
    if python is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api"
    argv = [str(python), "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with (work / "prefect-server.log").open("ab") as out:
        server = subprocess.Popen(
            argv,
            stdout=out,
            stderr=out,
            env={**os.environ, **prefect_env(work, None)},
            cwd=work,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT * 2
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the Prefect server did not start, see {work / 'prefect-server.log'}")
            try:
                with urllib.request.urlopen(f"{api}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield api
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def prefect_flow(python: Path, work: Path, address: str, api: str, *, runs: int, versions: str) -> Prefect:
    script = work / "prefect_w2.py"
    script.write_text(PREFECT_FLOW, encoding="utf-8")
    env = {**os.environ, **prefect_env(work, api)}
    argv = [str(python), str(script), address, str(runs), str(MAX_PARALLEL), ",".join(map(str, PHASES))]
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=work, env=env, timeout=RUN_TIMEOUT)
    whole = time.perf_counter() - start
    (work / "prefect.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    seconds = [json.loads(line)["seconds"] for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(seconds) != runs + 1:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return Prefect(versions, absent=f"the flow failed (exit {done.returncode}), see {work / 'prefect.log'}: {tail}")
    return Prefect(versions, warmup=seconds[0], runs=seconds[1:], whole=whole)


# --- report ------------------------------------------------------------------------------------------------------


def p90(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def report(
    local: Side, remote: Side, *, floors: list[Floor], prefect: Prefect | None, prefect_note: str, nthreads: int
) -> list[bool | None]:
    n = len(local.runs)
    base = statistics.median(local.tasks_ms())
    overhead = [ms - base for ms in remote.tasks_ms()]
    remote_ms = remote.tasks_ms()
    ratio = remote.median_inside() / local.median_inside()
    whole_ratio = remote.median_whole() / local.median_whole()
    floor_seconds = statistics.median(f.seconds for f in floors)
    floor_ms = [ms for f in floors for ms in f.tasks_ms]
    workers = Counter[str]()
    for r in remote.runs:
        workers += r.workers
    tasks = sum(PHASES)
    print(
        f"\nW2: {' + '.join(map(str, PHASES))} tasks of `true`, maxParallelJobs {MAX_PARALLEL}; cluster: "
        f"{WORKERS} workers x {nthreads} threads; median of {n} interleaved runs each"
    )
    rows: list[tuple[str, str]] = [
        ("local: whole process", f"{local.median_whole():.3f} s"),
        ("local: run (run.started -> run.finished)", f"{local.median_inside():.3f} s"),
        ("local: per task (durationMs), median / p90", f"{base:.1f} ms / {p90(local.tasks_ms()):.1f} ms"),
        ("dask: whole process", f"{remote.median_whole():.3f} s"),
        ("dask: run (run.started -> run.finished)", f"{remote.median_inside():.3f} s"),
        ("dask: run per task", f"{remote.median_inside() / tasks * 1000:.2f} ms"),
        (
            "dask: per task (durationMs), median / p90",
            f"{statistics.median(remote_ms):.1f} ms / {p90(remote_ms):.1f} ms",
        ),
        (
            "dask: dispatch overhead per task, median / p90",
            f"{statistics.median(overhead):.1f} ms / {p90(overhead):.1f} ms",
        ),
        (
            "dask: added run wall time per task, (dask run - local run) / tasks",
            f"{(remote.median_inside() - local.median_inside()) / tasks * 1000:.2f} ms",
        ),
        (
            "bare Dask client: the same",
            f"{(floor_seconds - local.median_inside()) / tasks * 1000:.2f} ms",
        ),
        ("dask: tasks per worker, all timed runs", ", ".join(f"{w} {c}" for w, c in sorted(workers.items()))),
        ("bare Dask client through the scheduler: W2", f"{floor_seconds:.3f} s"),
        (
            "bare Dask client: per task (submit to result), median / p90",
            f"{statistics.median(floor_ms):.1f} ms / {p90(floor_ms):.1f} ms",
        ),
        ("bare Dask client: per task minus local median, median", f"{statistics.median(floor_ms) - base:.1f} ms"),
        ("bare Dask client / local, run wall time", f"{floor_seconds / local.median_inside():.2f}x"),
        ("dask / bare Dask client, run wall time", f"{remote.median_inside() / floor_seconds:.2f}x"),
        ("dask / local, run wall time", f"{ratio:.2f}x"),
        ("dask / local, whole process", f"{whole_ratio:.2f}x"),
    ]
    for label, side in (("local", local), ("dask", remote)):
        if side.warmup is not None:
            rows.append(
                (
                    f"{label}: warm-up run (new state dir)",
                    f"{side.warmup.whole:.3f} s whole, {side.warmup.inside:.3f} s run",
                )
            )
    if prefect is not None and prefect.absent is None:
        flow = statistics.median(prefect.runs)
        rows += [
            (f"Prefect DaskTaskRunner: flow run, median of {len(prefect.runs)}", f"{flow:.3f} s"),
            ("Prefect: flow run per task", f"{flow / tasks * 1000:.2f} ms"),
            ("Prefect: warm-up flow run", f"{prefect.warmup:.3f} s"),
            ("Prefect: whole process (API server, warm-up and runs)", f"{prefect.whole:.1f} s"),
            ("Prefect / orchrecon dask, run wall time", f"{flow / remote.median_inside():.2f}x"),
            ("Prefect versions", prefect.versions),
        ]
    else:
        rows.append(
            ("Prefect DaskTaskRunner", prefect.absent if prefect is not None and prefect.absent else prefect_note)
        )
    print_rows(rows)
    median_overhead = statistics.median(overhead)
    return print_targets(
        [
            (
                f"dispatch overhead per task, median < {TARGET_OVERHEAD_MS:g} ms",
                f"{median_overhead:.1f} ms",
                median_overhead < TARGET_OVERHEAD_MS,
            ),
            (f"dask run wall time <= {TARGET_RATIO:g}x local", f"{ratio:.2f}x", ratio <= TARGET_RATIO),
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="work here (an empty or new folder) and keep the repository and logs")
    parser.add_argument("--runs", type=positive, default=5, help="timed runs of each executor (default 5)")
    parser.add_argument("--seed", type=int, default=13, help="draws which executor goes first in a round (default 13)")
    parser.add_argument("--nthreads", type=positive, default=4, help="threads per worker (default 4: 8 at once)")
    parser.add_argument("--prefect-python", type=Path, help="python of a venv with prefect and prefect-dask")
    parser.add_argument("--profile", action="store_true", help="also run one dask run under cProfile")
    parser.add_argument("--top", type=positive, default=25, help="functions shown per profile listing (default 25)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = out_problem(args.out)
    if problem:
        print(f"dask.py: {problem}", file=sys.stderr)
        return 2
    tools = f"distributed {metadata.version('distributed')}"
    with work_folder(args.out, "orchrecon-bench-dask-", args.seed, tools) as work:
        print(f"orchrecon: {orchrecon_source()}")
        info, prefect_note = prefect_info(args.prefect_python, work)
        print(f"Prefect: {prefect_note}")
        repo = work / "repo"
        repo.mkdir()
        write_repo(repo, PHASES, MAX_PARALLEL, name=NAME)
        commit_all(repo, "W2")
        try:
            python = args.prefect_python if info is not None else None
            with (
                prefect_server(python, work) as api,
                cluster(work, args.nthreads, info["site"] if info else None, api) as found,
            ):
                print(f"cluster: {found.address}, {WORKERS} workers x {args.nthreads} threads (no nanny)")
                local, remote, floors = measure(repo, work, found.address, args.runs, args.seed)
                prefect = None
                if python is not None and api is not None:
                    progress(f"Prefect: warm-up and {args.runs} flow runs")
                    prefect = prefect_flow(python, work, found.address, api, runs=args.runs, versions=prefect_note)
                verdicts = report(
                    local, remote, floors=floors, prefect=prefect, prefect_note=prefect_note, nthreads=args.nthreads
                )
                if args.profile:
                    profile_dask(repo, work, found.address, args.top)
        except (BenchError, subprocess.SubprocessError) as exc:
            print(f"dask.py: {exc}", file=sys.stderr)
            return 1
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
