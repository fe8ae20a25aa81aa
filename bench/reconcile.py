"""Benchmark `orchrecon reconcile`: a full pass over 10,000 orchestrations, idle CPU, and `--watch` latency.

    python bench/reconcile.py [--out DIR] [--runs 3] [--idle-seconds 30] [--changes 10] [--profile] [--check]

Workloads, every one a whole `python -m orchrecon` process on a real git repository, always with `--state-dir`:
  1. The repository of bench/plan.py (deterministic for `--seed`: 10,000 orchestrations, 300 configurations,
     one or two schedules each in 50 time zones, a trigger on some), committed to git. A full pass is
     `reconcile --once` on a fresh state directory (it arms every schedule and trigger and writes every status
     file), timed from start to exit, median of `--runs`, with the peak resident set of that process
     (`os.wait4`). Then an incremental pass: a new commit changing one orchestration's description, reconciled
     on the last full pass's state directory (schedule slots that passed in between are decided too, as in life;
     the ledger records the pass appended are listed).
  2. Idle CPU: `reconcile` (long-running, default `--interval 60s`), plain and with `--watch`, on a small
     repository of `--idle-orchestrations` whose only schedules fire once a year, months from now. Once
     `status/_reconciler.json` has a `lastReconcile` and 2 s have passed, utime+stime of /proc/PID/stat are read
     before and after `--idle-seconds`; CPU% = CPU seconds / wall seconds * 100. The same on the 10,000
     repository (fresh state directory) is reported as a figure only: its schedules fire every few minutes and
     start real runs, so it is not idle (the ledger records appended in the window say how busy it was).
     `--skip-large-idle` leaves it out. Each reconciler is stopped with SIGTERM and must exit 0.
  3. `--watch` latency: `reconcile --watch --interval 1h` on a small repository; `--changes` times, an
     orchestration's description is changed and `git commit -a` run; the latency is from the moment the commit
     command starts (and, second figure, from when it returned) until `status/<name>.json` shows the new commit
     as `appliedRevision` (polled every 5 ms).

Targets: full pass under 5 s and under 300 MB resident; idle CPU under 1 % (small repository, plain and
`--watch`); a committed change applied within 1 s with `--watch` (median). `--profile` also runs one full pass
under cProfile and prints where the time goes.

It exits 0 whatever the figures are (`--check`: 1 when a target is missed), 1 when orchrecon fails (a pass exits
non-zero, writes wrong status files, or a reconciler does not get ready or stop cleanly), 2 on usage errors.
Standard library, orchrecon and git on PATH only.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import resource
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from figures import out_problem, positive, print_rows, print_targets, work_folder
from plan import Generated, generate, print_stats

import orchrecon

TARGET_FULL_S = 5.0
TARGET_RSS_MB = 300.0
TARGET_IDLE_PCT = 1.0
TARGET_WATCH_S = 1.0

SETTLE_SECONDS = 2.0  # after the first pass, before an idle window or the first commit
POLL_SECONDS = 0.005  # how often a status file is read while waiting for a commit to be applied
CHANGE_TIMEOUT_S = 30.0  # a commit not applied by then is a failure
KILL_AFTER_S = 10.0  # SIGTERM, then SIGKILL, when cleaning up after a failure
CHANGED = "o-00001"  # the orchestration the incremental pass changes

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


class BenchError(Exception):
    """orchrecon or git did not do what the benchmark needs; its figures would mean nothing."""


# --- git and repositories ----------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args],
        cwd=repo,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    """Commit every change in `repo` (a new repository on its first call); returns the commit's sha."""
    if not (repo / ".git").exists():
        git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def far_cron(now: datetime) -> str:
    """Once a year, at noon on the 15th of a month 5 or 6 months from `now`: never due while we measure."""
    return f"0 12 15 {(now.month + 5) % 12 + 1} *"


def small_orchestration(name: str, cron: str, description: str) -> str:
    return (
        "apiVersion: orchrecon/v1\n"
        "kind: Orchestration\n"
        f"metadata: {{name: {json.dumps(name)}, description: {json.dumps(description)}}}\n"
        "spec:\n"
        "  phases:\n"
        "    - name: main\n"
        "      tasks:\n"
        '        - {name: "noop", config: "bench/noop"}\n'
        "  schedules:\n"
        f'    - {{cron: {json.dumps(cron)}, timezone: "UTC"}}\n'
    )


def small_repository(root: Path, orchestrations: int, cron: str) -> list[str]:
    """A committed repository of `orchestrations` one-task orchestrations (`s-001` ...); returns their names."""
    (root / "configurations" / "bench").mkdir(parents=True)
    (root / "configurations" / "bench" / "noop.yaml").write_text(
        "apiVersion: orchrecon/v1\nkind: Configuration\nmetadata: {component: bench, name: noop}\n"
        'spec:\n  run: {command: ["true"]}\n',
        encoding="utf-8",
    )
    (root / "orchestrations").mkdir()
    names = [f"s-{i:03d}" for i in range(1, orchestrations + 1)]
    for name in names:
        (root / "orchestrations" / f"{name}.yaml").write_text(
            small_orchestration(name, cron, f"Pipeline {name}"), encoding="utf-8"
        )
    commit_all(root, "small repository")
    return names


def change_description(repo: Path, name: str, description: str) -> None:
    """Rewrite the `metadata` line (the third) of an orchestration written by plan.py or this script."""
    path = repo / "orchestrations" / f"{name}.yaml"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines[:2] != ["apiVersion: orchrecon/v1\n", "kind: Orchestration\n"] or not lines[2].startswith("metadata:"):
        raise BenchError(f"{path} does not start as expected; cannot change its description")
    lines[2] = f"metadata: {{name: {json.dumps(name)}, description: {json.dumps(description)}}}\n"
    path.write_text("".join(lines), encoding="utf-8")


# --- processes ---------------------------------------------------------------------------------------------


def orchrecon_source() -> str:
    """Where the measured orchrecon comes from, and its commit when that is a git checkout."""
    root = Path(orchrecon.__file__).parent
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=root, capture_output=True, text=True, check=False
    )
    return f"{root} ({done.stdout.strip() if done.returncode == 0 else 'not a git checkout'})"


def orchrecon_argv(repo: Path, state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), *args]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "    (no output)"
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after KILL_AFTER_S; reaps it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=KILL_AFTER_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Pass:
    seconds: float  # wall, from start to exit
    cpu_seconds: float  # user + system, with the git processes it waited for
    peak_mb: float  # peak resident set (10^6 bytes)


def measured(argv: Sequence[str], log: Path, timeout: float) -> Pass:
    """Run `argv` to its end as a child of this process; its wall time, CPU and peak RSS (from wait4, so
    earlier children do not count). BenchError if it fails or takes longer than `timeout` seconds."""
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            waited = _wait4(proc.pid, start + timeout)
        except BaseException:
            _kill(proc)
            raise
        seconds = time.perf_counter() - start
    if waited is None:
        _kill(proc)
        raise BenchError(f"{' '.join(argv[3:])} still running after {timeout:.0f} s:\n{_tail(log)}")
    status, usage = waited
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(argv[3:])} exited {proc.returncode}:\n{_tail(log)}")
    return Pass(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024 / 1_000_000)


def _wait4(pid: int, deadline: float) -> tuple[int, resource.struct_rusage] | None:
    """Reap `pid` once it exits: its wait status and resource usage; None if it still runs at `deadline`."""
    while time.perf_counter() < deadline:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage
        time.sleep(POLL_SECONDS)
    return None


@contextmanager
def started(argv: Sequence[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running child, stopped (SIGTERM, then SIGKILL) on the way out if it still runs."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            _kill(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float, log: Path) -> float:
    """SIGTERM and wait for exit 0; returns the seconds it took. BenchError otherwise."""
    start = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"the reconciler did not exit within {timeout:.0f} s of SIGTERM:\n{_tail(log)}") from None
    if code != 0:
        raise BenchError(f"the reconciler exited {code} on SIGTERM (expected 0):\n{_tail(log)}")
    return time.perf_counter() - start


def read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def wait_ready(proc: subprocess.Popen[bytes], state: Path, timeout: float, log: Path) -> float:
    """Wait until `status/_reconciler.json` has a `lastReconcile`; returns the seconds it took."""
    start = time.perf_counter()
    path = state / "status" / "_reconciler.json"
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise BenchError(f"the reconciler exited {proc.returncode} before its first pass:\n{_tail(log)}")
        status = read_json(path)
        if status is not None and status.get("lastReconcile"):
            return time.perf_counter() - start
        time.sleep(0.05)
    raise BenchError(f"no lastReconcile in {path} after {timeout:.0f} s:\n{_tail(log)}")


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime + stime, cutime + cstime) of `pid` in seconds, from /proc/PID/stat; all threads count."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    own = int(fields[11]) + int(fields[12])  # fields 14 and 15; the list starts at field 3
    children = int(fields[13]) + int(fields[14])
    return own / ticks, children / ticks


def ledger_lines(state: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (state / "ledger").glob("*.jsonl"))


def ledger_types(state: Path) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for segment in sorted((state / "ledger").glob("*.jsonl")):
        with segment.open("rb") as f:
            for line in f:
                try:
                    kinds[str(json.loads(line).get("type"))] += 1
                except (ValueError, AttributeError):
                    continue
    return kinds


# --- 1. full and incremental passes --------------------------------------------------------------------------


def check_pass(state: Path, revision: str, orchestrations: int) -> None:
    """The pass applied `revision` to every orchestration and wrote every status file."""
    status = read_json(state / "status" / "_reconciler.json") or {}
    last = status.get("lastReconcile")
    written = sum(1 for p in (state / "status").glob("*.json") if p.name != "_reconciler.json")
    if (
        not isinstance(last, dict)
        or last.get("revision") != revision
        or last.get("orchestrations") != orchestrations
        or last.get("errors") != 0
        or written != orchestrations
    ):
        raise BenchError(
            f"after reconcile --once in {state}: lastReconcile {last}, {written} status files "
            f"(expected revision {revision}, {orchestrations} orchestrations, no errors)"
        )


def full_passes(repo: Path, work: Path, revision: str, gen: Generated, *, runs: int, timeout: float) -> list[Pass]:
    passes: list[Pass] = []
    for run in range(1, runs + 1):
        state = work / f"state-full-{run}"
        result = measured(orchrecon_argv(repo, state, "reconcile", "--once"), work / f"full-{run}.log", timeout)
        check_pass(state, revision, gen.orchestrations)
        progress(f"full pass {run}/{runs}: {result.seconds:.2f} s, {result.peak_mb:.0f} MB")
        passes.append(result)
    return passes


@dataclass(frozen=True)
class Incremental:
    result: Pass
    appended: Counter[str]


def incremental_pass(repo: Path, work: Path, state: Path, gen: Generated, timeout: float) -> Incremental:
    change_description(repo, CHANGED, f"Pipeline {CHANGED}, changed at {datetime.now(UTC):%H:%M:%S}")
    revision = commit_all(repo, f"change {CHANGED}")
    before = ledger_types(state)
    result = measured(orchrecon_argv(repo, state, "reconcile", "--once"), work / "incremental.log", timeout)
    check_pass(state, revision, gen.orchestrations)
    status = read_json(state / "status" / f"{CHANGED}.json") or {}
    if status.get("appliedRevision") != revision:
        raise BenchError(f"status/{CHANGED}.json: appliedRevision {status.get('appliedRevision')}, not {revision}")
    progress(f"incremental pass: {result.seconds:.2f} s, {result.peak_mb:.0f} MB")
    return Incremental(result, ledger_types(state) - before)


def profile_full(repo: Path, work: Path, top: int, timeout: float) -> None:
    out = work / "reconcile.prof"
    argv = orchrecon_argv(repo, work / "state-profile", "reconcile", "--once")
    result = measured([argv[0], "-m", "cProfile", "-o", str(out), *argv[1:]], work / "profile.log", timeout)
    print(f"\n--- cProfile: reconcile --once, full pass, whole process ({result.seconds:.1f} s with profiling)")
    print_stats(pstats.Stats(str(out)), top)


# --- 2. idle CPU -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Idle:
    percent: float
    cpu_seconds: float  # the reconciler's own, every thread
    children_seconds: float  # processes it waited for in the window (git, tasks)
    wall_seconds: float
    records: int  # ledger records appended in the window
    ready_seconds: float
    stop_seconds: float


def measure_idle(
    repo: Path, state: Path, log: Path, *, watch: bool, seconds: float, ready_timeout: float, stop_timeout: float
) -> Idle:
    argv = orchrecon_argv(repo, state, "reconcile", *(["--watch"] if watch else []))
    with started(argv, log) as proc:
        ready = wait_ready(proc, state, ready_timeout, log)
        time.sleep(SETTLE_SECONDS)
        records = ledger_lines(state)
        own, children = cpu_times(proc.pid)
        start = time.perf_counter()
        time.sleep(seconds)
        own_after, children_after = cpu_times(proc.pid)
        wall = time.perf_counter() - start
        records = ledger_lines(state) - records
        stopped = stop(proc, stop_timeout, log)
    cpu = own_after - own
    return Idle(cpu / wall * 100, cpu, children_after - children, wall, records, ready, stopped)


# --- 3. --watch latency ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    from_start: float  # from just before `git commit` started
    from_return: float  # from just after it returned
    commit_seconds: float


def wait_applied(status: Path, revision: str, deadline: float) -> float:
    """Poll `status` until its appliedRevision is `revision`; the perf_counter instant it was seen."""
    while True:
        now = time.perf_counter()
        data = read_json(status)
        if data is not None and data.get("appliedRevision") == revision:
            return now
        if now > deadline:
            raise BenchError(f"{status} did not show revision {revision} within {CHANGE_TIMEOUT_S:.0f} s")
        time.sleep(POLL_SECONDS)


def measure_watch(
    repo: Path, state: Path, name: str, log: Path, *, changes: int, ready_timeout: float
) -> list[Latency]:
    latencies: list[Latency] = []
    status = state / "status" / f"{name}.json"
    with started(orchrecon_argv(repo, state, "reconcile", "--watch", "--interval", "1h"), log) as proc:
        wait_ready(proc, state, ready_timeout, log)
        time.sleep(SETTLE_SECONDS)
        for i in range(1, changes + 1):
            change_description(repo, name, f"Pipeline {name}, change {i}")
            begun = time.perf_counter()
            git(repo, "commit", "-q", "-a", "-m", f"change {i}")
            returned = time.perf_counter()
            revision = git(repo, "rev-parse", "HEAD")
            seen = wait_applied(status, revision, returned + CHANGE_TIMEOUT_S)
            latencies.append(Latency(seen - begun, seen - returned, returned - begun))
            if proc.poll() is not None:
                raise BenchError(f"the reconciler exited {proc.returncode} during the changes:\n{_tail(log)}")
            time.sleep(0.2)  # the next commit is a separate burst for the watcher
        stop(proc, 60.0, log)
    return latencies


# --- report ----------------------------------------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"  ... {message}", file=sys.stderr, flush=True)


def _idle_figure(idle: Idle) -> str:
    return (
        f"{idle.percent:.2f} % ({idle.cpu_seconds:.2f} s CPU in {idle.wall_seconds:.1f} s; "
        f"children {idle.children_seconds:.2f} s; {idle.records} ledger records in the window)"
    )


@dataclass(frozen=True)
class Results:
    gen: Generated
    full: list[Pass]
    incremental: Incremental | None
    idle: Idle
    idle_watch: Idle
    idle_large: Idle | None
    watch: list[Latency]
    idle_orchestrations: int


def report(r: Results) -> list[bool | None]:
    seconds = statistics.median(p.seconds for p in r.full)
    peak = max(p.peak_mb for p in r.full)
    n = len(r.full)
    rows: list[tuple[str, str]] = [
        (
            "repository",
            f"{r.gen.orchestrations} orchestrations, {r.gen.configurations} configurations, "
            f"{r.gen.schedules} schedules, {r.gen.megabytes:.1f} MB",
        ),
        (f"full pass (reconcile --once, fresh state), median of {n}", f"{seconds:.2f} s"),
        ("full pass, min / max", f"{min(p.seconds for p in r.full):.2f} s / {max(p.seconds for p in r.full):.2f} s"),
        ("full pass, CPU user+sys, median", f"{statistics.median(p.cpu_seconds for p in r.full):.2f} s"),
        (f"full pass, peak RSS, max of {n}", f"{peak:.0f} MB"),
    ]
    if r.incremental is not None:
        inc = r.incremental
        appended = ", ".join(f"{count} {kind}" for kind, count in sorted(inc.appended.items()))
        rows += [
            (f"incremental pass ({CHANGED} changed, reconciled state)", f"{inc.result.seconds:.2f} s"),
            (
                "incremental pass, CPU user+sys / peak RSS",
                f"{inc.result.cpu_seconds:.2f} s / {inc.result.peak_mb:.0f} MB",
            ),
            ("incremental pass, ledger records appended", appended or "none"),
        ]
    small = f"{r.idle_orchestrations} orchestrations, nothing due"
    rows += [
        (f"idle CPU, {small}", _idle_figure(r.idle)),
        (f"idle CPU, {small}, --watch", _idle_figure(r.idle_watch)),
        ("idle: first pass ready / SIGTERM to exit 0", f"{r.idle.ready_seconds:.2f} s / {r.idle.stop_seconds:.2f} s"),
    ]
    if r.idle_large is not None:
        large = r.idle_large
        rows += [
            (f"CPU, {r.gen.orchestrations} orchestrations, running (schedules may fire)", _idle_figure(large)),
            ("  its first pass ready / SIGTERM to exit 0", f"{large.ready_seconds:.1f} s / {large.stop_seconds:.1f} s"),
        ]
    from_start = [w.from_start for w in r.watch]
    from_return = [w.from_return for w in r.watch]
    watch_median = statistics.median(from_start)
    rows += [
        (f"--watch: commit start to status, median of {len(r.watch)}", f"{watch_median * 1000:.0f} ms"),
        (
            "--watch: commit start to status, min / max",
            f"{min(from_start) * 1000:.0f} / {max(from_start) * 1000:.0f} ms",
        ),
        ("--watch: commit return to status, median", f"{statistics.median(from_return) * 1000:.0f} ms"),
        ("--watch: git commit itself, median", f"{statistics.median(w.commit_seconds for w in r.watch) * 1000:.0f} ms"),
    ]
    print_rows(rows)

    targets = [
        (f"full pass under {TARGET_FULL_S:.0f} s", f"{seconds:.2f} s", seconds < TARGET_FULL_S),
        (f"full pass peak RSS under {TARGET_RSS_MB:.0f} MB", f"{peak:.0f} MB", peak < TARGET_RSS_MB),
        (
            f"idle CPU under {TARGET_IDLE_PCT:.0f} % (small)",
            f"{r.idle.percent:.2f} %",
            r.idle.percent < TARGET_IDLE_PCT,
        ),
        (
            f"idle CPU under {TARGET_IDLE_PCT:.0f} % (small, --watch)",
            f"{r.idle_watch.percent:.2f} %",
            r.idle_watch.percent < TARGET_IDLE_PCT,
        ),
        (
            f"--watch change applied within {TARGET_WATCH_S:.0f} s (median)",
            f"{watch_median * 1000:.0f} ms",
            watch_median < TARGET_WATCH_S,
        ),
    ]
    return print_targets(targets)


# --- main ------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="work here (an empty or new folder) and keep repositories and logs")
    parser.add_argument("--runs", type=positive, default=3, help="timed full passes (default 3)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generator (default 2026)")
    parser.add_argument("--orchestrations", type=positive, default=10_000, help="orchestrations (default 10000)")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="the idle window (default 30)")
    parser.add_argument(
        "--idle-orchestrations", type=positive, default=10, help="orchestrations of the idle repository (default 10)"
    )
    parser.add_argument("--skip-large-idle", action="store_true", help="do not run the large repository's CPU window")
    parser.add_argument("--changes", type=positive, default=10, help="commits timed with --watch (default 10)")
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="longest a pass or a first pass may take, seconds (default 1800)"
    )
    parser.add_argument("--profile", action="store_true", help="also run one full pass under cProfile")
    parser.add_argument("--top", type=positive, default=15, help="functions shown per profile listing (default 15)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.idle_seconds <= 0 or args.timeout <= 0:
        parser.error("--idle-seconds and --timeout must be positive")
    return args


def run(args: argparse.Namespace, work: Path) -> Results:
    repo = work / "repo"
    repo.mkdir(parents=True)
    gen = generate(repo, seed=args.seed, orchestrations=args.orchestrations, per_component=30)
    revision = commit_all(repo, "generated")
    progress(f"generated and committed {gen.orchestrations} orchestrations in {repo}")
    full = full_passes(repo, work, revision, gen, runs=args.runs, timeout=args.timeout)
    incremental = incremental_pass(repo, work, work / f"state-full-{args.runs}", gen, args.timeout)

    idle_repo = work / "idle-repo"
    small_repository(idle_repo, args.idle_orchestrations, far_cron(datetime.now(UTC)))
    idles: list[Idle] = []
    for watching in (False, True):
        suffix = "-watch" if watching else ""
        idles.append(
            measure_idle(
                idle_repo,
                work / f"state-idle{suffix}",
                work / f"idle{suffix}.log",
                watch=watching,
                seconds=args.idle_seconds,
                ready_timeout=args.timeout,
                stop_timeout=60.0,
            )
        )
        progress(f"idle{suffix}: {idles[-1].percent:.2f} %")

    watch_repo = work / "watch-repo"
    names = small_repository(watch_repo, 3, far_cron(datetime.now(UTC)))
    watch = measure_watch(
        watch_repo, work / "state-watch", names[0], work / "watch.log", changes=args.changes, ready_timeout=args.timeout
    )
    progress(f"--watch: median {statistics.median(w.from_start for w in watch) * 1000:.0f} ms")

    idle_large = None
    if not args.skip_large_idle:
        idle_large = measure_idle(
            repo,
            work / "state-idle-large",
            work / "idle-large.log",
            watch=False,
            seconds=args.idle_seconds,
            ready_timeout=args.timeout,
            stop_timeout=args.timeout,
        )
        progress(f"large repository: {idle_large.percent:.2f} %")
    return Results(gen, full, incremental, idles[0], idles[1], idle_large, watch, args.idle_orchestrations)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = out_problem(args.out)
    if problem:
        print(f"reconcile.py: {problem}", file=sys.stderr)
        return 2
    with work_folder(args.out, "orchrecon-bench-", args.seed, git(Path(), "--version")) as work:
        print(f"orchrecon: {orchrecon_source()}")
        try:
            results = run(args, work)
        except BenchError as exc:
            print(f"reconcile.py: {exc}", file=sys.stderr)
            return 1
        print()
        verdicts = report(results)
        if args.profile:
            profile_full(work / "repo", work, args.top, args.timeout)
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
