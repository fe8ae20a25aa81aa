"""Run as `python -m bench.postgres` (it starts its server with tests/pgserver.py).

The PostgreSQL state backend against the state directory, side by side (issue 14).

Measured now: the append latency of one record and of a group of ten (the issue sets no target for it): on
the JSONL ledger as the runner appends (written, synced later in a batch) and synced at once, and on the
ledger table (a PostgreSQL server started here from Debian's binaries, fsync on, as in production; durable when
its one transaction per append commits). Not measured yet: W2 (200 tasks of `true`, 8 at once) and
`runs --limit 20` on 1,000,000 records per backend, since commands do not take `--state postgresql://…` until
the store port lands; the script says so next to those targets instead of printing a figure.

Exit 0 when measured, 2 on usage errors, 3 when this machine has no PostgreSQL server binaries or they fail
to start one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.ledger import TableLedger
from orchrecon.store.postgresql.schema import migrate
from tests.pgserver import NOT_FOUND, start_server, stop_server


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=int, default=300, help="appends measured per backend and kind")
    args = parser.parse_args()
    if args.appends < 10:
        parser.error("--appends must be at least 10")
    try:
        server = start_server(durable=True)
    except AssertionError as exc:  # initdb or pg_ctl failed: pgserver's message names which, with the log's tail
        print(f"cannot start PostgreSQL: {exc}", file=sys.stderr)
        return 3
    if server is None:
        print(NOT_FOUND, file=sys.stderr)
        return 3
    clock = SystemClock()
    group = [{"type": "table.updated", "table": f"t{i}"} for i in range(10)]
    try:
        database = Database(server.create_database())
        with database.connect() as conn:
            migrate(conn)
        table = TableLedger(database, clock)
        with tempfile.TemporaryDirectory(prefix="orchrecon-bench-pg-") as tmp:
            files = Ledger(Path(tmp) / "ledger", clock)

            def synced(append: Callable[[], object]) -> None:
                append()
                files.sync()

            figures = {
                ("state directory", "one record"): latencies(lambda i: files.append_one("t", i=i), args.appends),
                ("state directory, synced", "one record"): latencies(
                    lambda i: synced(lambda: files.append_one("t", i=i)), args.appends
                ),
                ("PostgreSQL", "one record"): latencies(lambda i: table.append_one("t", i=i), args.appends),
                ("state directory", "ten records"): latencies(lambda i: files.append(group), args.appends),
                ("state directory, synced", "ten records"): latencies(
                    lambda i: synced(lambda: files.append(group)), args.appends
                ),
                ("PostgreSQL", "ten records"): latencies(lambda i: table.append(group), args.appends),
            }
            files.close()
        table.close()
    finally:
        stop_server(server)
    print(f"PostgreSQL {server.bindir.parent.name} (fsync on) on 127.0.0.1; {args.appends} appends each")
    print("(the runner's appends are synced in batches; a table append is durable when it returns)")
    for kind in ("one record", "ten records"):
        print(f"append, {kind}:")
        for backend in ("state directory", "state directory, synced", "PostgreSQL"):
            print(f"  {backend:<24} {shown(figures[(backend, kind)])}")
    print("W2 (200 tasks of `true`, 8 at once) per backend, target within 1.5x: not measured yet, since commands")
    print("  do not take --state postgresql://... before the store port lands")
    print("runs --limit 20 on 1,000,000 records on PostgreSQL, target < 0.5 s: not measured yet (same reason)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
