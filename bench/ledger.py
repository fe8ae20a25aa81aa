"""A ledger of 1,000,000 records (100,000 runs): `orchrecon runs --limit 20` and `orchrecon show`
whole-process times (target < 0.5 s each, after the index is built once), the one-off index build,
and append latency on an empty vs. a full ledger (appends must stay O(1))."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger

RUNS = 100_000
TASKS = ("extract", "transform", "write")


def run_records(n: int) -> list[dict[str, Any]]:
    run = f"run-{n:06d}"
    tasks = [
        {"name": t, "config": f"c/{t}", "enabled": True, "selected": True, "continueOnFailure": False} for t in TASKS
    ]
    records: list[dict[str, Any]] = [
        {
            "type": "run.requested",
            "run": run,
            "orchestration": f"o{n % 50}",
            "trigger": "schedule",
            "phases": [{"name": "main", "tasks": tasks}],
            "definition": {"orchestration": {}, "configurations": {}},
        },
        {"type": "run.started", "run": run, "pid": 1},
        {"type": "phase.started", "run": run, "phase": "main"},
    ]
    for t in TASKS:
        records.append({"type": "task.started", "run": run, "phase": "main", "task": t, "config": f"c/{t}"})
        records.append({"type": "task.finished", "run": run, "phase": "main", "task": t, "status": "success"})
    records += [
        {"type": "phase.finished", "run": run, "phase": "main", "status": "success"},
        {"type": "run.finished", "run": run, "status": "success"},
    ]
    return records


def write_runs(ledger: Ledger, runs: int) -> None:
    """Append `runs` runs of `run_records`, 10,000 records an append."""
    batch: list[dict[str, Any]] = []
    for n in range(runs):
        batch += run_records(n)
        if len(batch) >= 10_000:
            ledger.append(batch)
            batch = []
    ledger.append(batch)


def append_latency(ledger: Ledger, count: int = 200) -> float:
    start = time.perf_counter()
    for i in range(count):
        ledger.append_one("table.updated", table=f"t{i}")
    return (time.perf_counter() - start) / count * 1e6


def timed(argv: list[str], runs: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        out = done.stdout
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=RUNS, help="runs to generate (10 records each)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo, state = Path(tmp) / "repo", Path(tmp) / "state"
        (repo / "orchestrations").mkdir(parents=True)
        ledger = Ledger(state / "ledger", SystemClock())
        empty = append_latency(ledger)
        start = time.perf_counter()
        write_runs(ledger, args.runs)
        ledger.sync()
        generated = time.perf_counter() - start
        full = append_latency(ledger)
        ledger.close()
        size = sum(p.stat().st_size for p in (state / "ledger").glob("*.jsonl"))
        base = [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state)]
        build, _ = timed([*base, "runs", "--limit", "1"], 1)
        runs_time, listing = timed([*base, "runs", "--limit", "20"], args.repeat)
        last = f"run-{args.runs - 1:06d}"
        show_time, shown = timed([*base, "show", last], args.repeat)
        assert last in listing, listing
        assert len(listing.splitlines()) == 21, listing
        assert "success" in shown, shown
    records = args.runs * 10
    print(f"ledger: {records:,} records, {args.runs:,} runs, {size / 1e6:.0f} MB, generated in {generated:.1f} s")
    print(f"append latency: {empty:.0f} us on an empty ledger, {full:.0f} us on the full one (O(1))")
    print(f"index build, once (orchrecon runs on a ledger with no index): {build:.2f} s")
    ok_runs, ok_show = runs_time < 0.5, show_time < 0.5
    print(
        f"orchrecon runs --limit 20, whole process, median of {args.repeat}: {runs_time:.3f} s"
        f"  target < 0.5 s  {'PASS' if ok_runs else 'FAIL'}"
    )
    print(
        f"orchrecon show RUN_ID, whole process, median of {args.repeat}: {show_time:.3f} s"
        f"  target < 0.5 s  {'PASS' if ok_show else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
