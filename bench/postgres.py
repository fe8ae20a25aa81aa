"""The PostgreSQL state backend against the state directory, side by side (issue 14).

Run as `python bench/postgres.py`; it starts its own PostgreSQL server from Debian's binaries (tests/pgserver.py),
fsync on, as in production, on a free port of 127.0.0.1.

- W2 (one phase of 200 tasks of `true` at most 8 at once, then one task): `orchrecon run`'s whole-process time on
  each backend, alternating; target: the database within 1.5x of the state directory, as the median of the
  rounds' ratios (each round runs both, side by side, so that the machine's drift cancels).
- Append latency of one record and of a group of ten: on the JSONL ledger as the runner appends (written, synced
  later in a batch), synced at once, and on the ledger table (committed in one statement, flushed later in a batch).
- `orchrecon runs --limit 20` on a ledger of --records records (1,000,000: 100,000 runs of 10 records) in the
  database, loaded with `ledger import`; its whole-process time once the machine's index is built (the first
  command builds it, timed apart), median of --runs; target under 0.5 s.

Exit 0 when measured (1 with --check and a target missed), 2 on usage errors, 3 when this machine has no
PostgreSQL server binaries or they fail to start one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/pgserver.py starts the server

from figures import positive, print_rows, print_targets, work_folder
from ledger import write_runs
from reconcile import commit_all, orchrecon_argv, progress
from run_overhead import write_repo

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.ledger import TableLedger
from tests.pgserver import NOT_FOUND, PostgresServer, migrated, start_server, stop_server

W2 = [200, 1]
MAX_PARALLEL = 8
STATE_URL = "ORCHRECON_STATE_URL"


def latencies(append: Callable[[int], object], count: int) -> list[float]:
    """Milliseconds per call of `append(i)`, after a few warm-up calls."""
    for i in range(5):
        append(i)
    times = []
    for i in range(count):
        start = time.perf_counter()
        append(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def shown(times: list[float]) -> str:
    times = sorted(times)
    return f"median {statistics.median(times):.2f} ms, p90 {times[int(len(times) * 0.9)]:.2f} ms"


def timed(argv: Sequence[str], env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """The whole-process seconds of `argv` and its output."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in ok:
        raise SystemExit(f"postgres.py: {' '.join(argv[3:])} failed ({done.returncode}): {done.stderr.strip()}")
    return seconds, done.stdout


def append_figures(url: str, work: Path, count: int) -> dict[tuple[str, str], list[float]]:
    clock = SystemClock()
    group = [{"type": "table.updated", "table": f"t{i}"} for i in range(10)]
    table = TableLedger(Database(url), clock)
    files = Ledger(work / "append-ledger", clock)

    def synced(append: Callable[[], object]) -> None:
        append()
        files.sync()

    try:
        return {
            ("state directory", "one record"): latencies(lambda i: files.append_one("t", i=i), count),
            ("state directory, synced", "one record"): latencies(
                lambda i: synced(lambda: files.append_one("t", i=i)), count
            ),
            ("PostgreSQL", "one record"): latencies(lambda i: table.append_one("t", i=i), count),
            ("state directory", "ten records"): latencies(lambda _: files.append(group), count),
            ("state directory, synced", "ten records"): latencies(lambda _: synced(lambda: files.append(group)), count),
            ("PostgreSQL", "ten records"): latencies(lambda _: table.append(group), count),
        }
    finally:
        files.close()
        table.close()


def w2(server: PostgresServer, work: Path, runs: int) -> dict[str, list[float]]:
    """`orchrecon run w2` seconds on each backend, alternating which goes first."""
    repo = work / "w2"
    repo.mkdir()
    write_repo(repo, W2, MAX_PARALLEL, name="w2")
    commit_all(repo, "W2")
    url = migrated(server.create_database())
    backends = {
        "state directory": (work / "w2-state", {k: v for k, v in os.environ.items() if k != STATE_URL}),
        "PostgreSQL": (work / "w2-database", {**os.environ, STATE_URL: url}),
    }
    seconds: dict[str, list[float]] = {name: [] for name in backends}
    for round_ in range(runs + 1):  # the first round warms up: a new index, a new connection
        order = list(backends) if round_ % 2 else list(reversed(backends))
        for name in order:
            state, env = backends[name]
            took, _ = timed(orchrecon_argv(repo, state, "run", "w2"), env)
            if round_:
                seconds[name].append(took)
        progress(f"W2 round {round_} of {runs}")
    return seconds


def listing(server: PostgresServer, work: Path, records: int, runs: int) -> tuple[float, float, float, float]:
    """Loads `records` records into a new database with `ledger import`; returns the seconds it took, the first
    `runs --limit 20` (which builds the index), the median of `runs` more, and the generation's seconds."""
    state = work / "big-state"
    ledger = Ledger(state / "ledger", SystemClock())
    start = time.perf_counter()
    write_runs(ledger, records // 10)
    ledger.close()
    generated = time.perf_counter() - start
    url = migrated(server.create_database())
    env = {**os.environ, STATE_URL: url}
    repo = work / "big-repo"
    (repo / "orchestrations").mkdir(parents=True)
    progress(f"{records:,} records generated in {generated:.0f} s; importing")
    imported, _ = timed(orchrecon_argv(repo, state, "ledger", "import"), env)
    machine = work / "big-machine"
    first, out = timed(orchrecon_argv(repo, machine, "runs", "--limit", "20"), env)
    assert len(out.splitlines()) == 21, out
    times = [timed(orchrecon_argv(repo, machine, "runs", "--limit", "20"), env)[0] for _ in range(runs)]
    return imported, first, statistics.median(times), generated


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=positive, default=300, help="appends measured per backend and kind")
    parser.add_argument("--runs", type=positive, default=5, help="timed runs of W2 and of runs --limit 20")
    parser.add_argument("--records", type=positive, default=1_000_000, help="records in the big ledger")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    try:
        server = start_server(durable=True)
    except AssertionError as exc:  # initdb or pg_ctl failed: pgserver's message names which, with the log's tail
        print(f"postgres.py: cannot start PostgreSQL: {exc}", file=sys.stderr)
        return 3
    if server is None:
        print(f"postgres.py: {NOT_FOUND}", file=sys.stderr)
        return 3
    try:
        with work_folder(None, "orchrecon-bench-pg-", 0, f"PostgreSQL {server.bindir.parent.name}, fsync on") as work:
            progress("append latency")
            appends = append_figures(migrated(server.create_database()), work, args.appends)
            seconds = w2(server, work, args.runs)
            imported, first, runs_20, generated = listing(server, work, args.records, args.runs)
    finally:
        stop_server(server)
    local, database = (statistics.median(seconds[name]) for name in ("state directory", "PostgreSQL"))
    # Round by round (the two ran side by side, A B then B A): the machine's drift cancels in each ratio.
    ratio = statistics.median(d / s for s, d in zip(seconds["state directory"], seconds["PostgreSQL"], strict=True))
    rows = [
        (f"append, {kind}, {backend}", shown(appends[(backend, kind)]))
        for kind in ("one record", "ten records")
        for backend in ("state directory", "state directory, synced", "PostgreSQL")
    ]
    rows += [
        (f"W2, state directory, median of {args.runs}", f"{local:.3f} s"),
        (f"W2, PostgreSQL, median of {args.runs}", f"{database:.3f} s"),
        (f"{args.records:,} records: generated / ledger import", f"{generated:.1f} s / {imported:.1f} s"),
        ("runs --limit 20, first (builds this machine's index)", f"{first:.2f} s"),
        (f"runs --limit 20, median of {args.runs}", f"{runs_20:.3f} s"),
    ]
    print("(appends are synced in batches on both: a JSONL append is fsynced, a table append's commit flushed, later)")
    print_rows(rows)
    verdicts = print_targets(
        [
            ("W2: PostgreSQL / state directory <= 1.5x (median of rounds)", f"{ratio:.2f}x", ratio <= 1.5),
            (f"runs --limit 20 on {args.records:,} records < 0.5 s", f"{runs_20:.3f} s", runs_20 < 0.5),
        ]
    )
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
