"""Benchmark the reports: `orchrecon report` on a state directory of 1,000,000 ledger records and 100
orchestrations, and the incremental update of one orchestration's report and the index after one run.

    python bench/report.py [--records 1000000] [--orchestrations 100] [--repeat 3] [--check]

The repository: `--orchestrations` orchestrations of two phases (three tasks), each with a schedule in one of
a few time zones, every third with a trigger on two tables; committed to git and reconciled once
(`reconcile --once`). The ledger then gets runs of those orchestrations (13 records each, as the runner
writes them: requested, started, phase and task records, finished; every seventh ends `error`, every fifth
is a retry), table updates and trigger decisions, appended in batches until it holds `--records` records.
The run index is built once by `orchrecon runs --limit 1` (as the first command after any append does).

1. `orchrecon report`, whole process, median of `--repeat` (each rewrites every status file and report);
   the files are checked (one report per orchestration, the index lists them all).
2. In-process: a run of one orchestration is appended to the ledger (its 13 records), then
   `Publisher.publish(desired, [name])` writes that orchestration's status file and report and the index,
   as `run` does when its run ends; median of `--repeat` runs. The desired state (read from git and
   validated) is loaded once and reported apart: `run` reads it once per process.

Targets: `report` under 3 s; the incremental update under 100 ms. Exits 0 whatever the figures are
(`--check`: 1 when a target is missed), 1 when orchrecon fails. Standard library, orchrecon and git only.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import positive, print_rows, print_targets

from orchrecon.app import open_app
from orchrecon.clock import SystemClock, format_time
from orchrecon.reconcile.publish import Publisher, desired_from_ledger
from orchrecon.store.ledger import Ledger

ZONES = ("UTC", "Europe/Prague", "America/New_York", "Asia/Tokyo")
TASKS = (("extract", ("orders", "customers")), ("transform", ("mart",)))


def generate_repository(root: Path, count: int) -> list[str]:
    for name in ("orders", "customers", "mart"):
        path = root / "configurations" / "ex" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "apiVersion: orchrecon/v1\nkind: Configuration\n"
            f"metadata: {{component: ex, name: {name}}}\n"
            f"spec:\n  run: {{command: [python3, -c, 'print(1)']}}\n  outputs: [in.c-ex.{name}]\n"
        )
    names = [f"orchestration-{i:03d}" for i in range(count)]
    for i, name in enumerate(names):
        phases = "".join(
            f"    - name: {phase}\n      tasks:\n"
            + "".join(
                f"        - {{name: {t}, config: ex/{t}, continueOnFailure: {str(t == 'customers').lower()}}}\n"
                for t in tasks
            )
            for phase, tasks in TASKS
        )
        trigger = "  trigger: {tables: [in.c-ex.orders, in.c-ex.customers], cooldown: 10m}\n" if i % 3 == 0 else ""
        (root / "orchestrations").mkdir(exist_ok=True)
        (root / "orchestrations" / f"{name}.yaml").write_text(
            "apiVersion: orchrecon/v1\nkind: Orchestration\n"
            f"metadata: {{name: {name}, description: Benchmark orchestration {i}}}\n"
            f"spec:\n  phases:\n{phases}"
            f"  schedules: [{{cron: '{i % 60} */2 * * *', timezone: {ZONES[i % len(ZONES)]}}}]\n{trigger}"
        )
    git = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], cwd=root, check=True)
    return names


def run_records(n: int, name: str, at: datetime) -> list[dict[str, Any]]:
    """A finished run's 13 records, timed from `at` (the ledger keeps a record's own `time`)."""
    run = f"{at.strftime('%Y%m%d-%H%M%S')}-{n % 0xFFFFFF:06x}"
    failed = n % 7 == 0
    phases = [
        {
            "name": phase,
            "tasks": [
                {
                    "name": t,
                    "config": f"ex/{t}",
                    "enabled": True,
                    "selected": True,
                    "continueOnFailure": t == "customers",
                }
                for t in tasks
            ],
        }
        for phase, tasks in TASKS
    ]
    how = (
        {"trigger": "retry", "by": "ana@example.com", "retryOf": f"run-{n - 1}"}
        if n % 5 == 0
        else {"trigger": "schedule"}
    )
    common = {"run": run, "time": format_time(at)}
    out: list[dict[str, Any]] = [
        {"type": "run.requested", **common, "orchestration": name, "phases": phases, **how},
        {"type": "run.started", **common, "pid": 1},
    ]
    for phase, tasks in TASKS:
        out.append({"type": "phase.started", **common, "phase": phase})
        out += [{"type": "task.started", **common, "phase": phase, "task": t, "config": f"ex/{t}"} for t in tasks]
        at += timedelta(seconds=40)
        common["time"] = format_time(at)
        status = "error" if failed and phase == "transform" else "success"
        out += [{"type": "task.finished", **common, "phase": phase, "task": t, "status": status} for t in tasks]
        out.append({"type": "phase.finished", **common, "phase": phase, "status": status})
    out.append({"type": "run.finished", **common, "status": "error" if failed else "success"})
    return out


def fill_ledger(state: Path, names: Sequence[str], records: int) -> int:
    """Append runs, table updates and trigger decisions until the ledger holds `records`; returns runs."""
    ledger = Ledger(state / "ledger", SystemClock())
    present = sum(1 for _ in ledger.read())
    at = datetime.now(UTC) - timedelta(minutes=records // 10)  # a run a minute or so, up to now
    batch: list[dict[str, Any]] = []
    runs, appended = 0, present
    while appended + len(batch) < records:
        at += timedelta(seconds=80)
        batch += run_records(runs, names[runs % len(names)], at)
        runs += 1
        if runs % 10 == 0:
            when = format_time(at)
            batch.append({"type": "table.updated", "time": when, "table": "in.c-ex.orders", "source": "bench"})
            batch.append(
                {
                    "type": "trigger.suppressed",
                    "time": when,
                    "orchestration": names[0],
                    "reason": "waiting",
                    "waitingFor": ["in.c-ex.customers"],
                    "tables": {},
                    "message": "waiting for in.c-ex.customers",
                }
            )
        if len(batch) >= 20_000:
            ledger.append(batch)
            appended += len(batch)
            batch = []
    ledger.append(batch[: records - appended])  # exactly `records`: the last run may be cut short
    ledger.sync()
    ledger.close()
    return runs


def whole_process(argv: Sequence[str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"orchrecon failed ({done.returncode}): {' '.join(argv)}\n{done.stderr}")
        out = done.stdout
    return statistics.median(times), out


def incremental(repo: Path, state: Path, name: str, repeat: int) -> tuple[float, float]:
    """(desired-state load, median publish of one run) in seconds, in this process."""
    app = open_app(repo, state, environ={})
    start = time.perf_counter()
    desired = desired_from_ledger(app)
    load = time.perf_counter() - start
    at = datetime.now(UTC)
    times = []
    for i in range(repeat):
        at += timedelta(minutes=2)
        app.ledger.append(run_records(10_000_000 + i, name, at))
        start = time.perf_counter()
        Publisher(app).publish(desired, [name])
        times.append(time.perf_counter() - start)
    app.ledger.close()
    report = (state / "reports" / f"{name}.md").read_text()
    if f"{at.strftime('%Y%m%d-%H%M%S')}-" not in report:
        sys.exit("the new run is not in the report")
    return load, statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--records", type=positive, default=1_000_000, help="ledger records (default 1000000)")
    parser.add_argument("--orchestrations", type=positive, default=100, help="orchestrations (default 100)")
    parser.add_argument("--repeat", type=positive, default=3, help="timed repetitions (default 3)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        repo, state = Path(tmp) / "repo", Path(tmp) / "state"
        repo.mkdir()
        names = generate_repository(repo, args.orchestrations)
        base = [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state)]
        whole_process([*base, "reconcile", "--once"], 1)
        start = time.perf_counter()
        runs = fill_ledger(state, names, args.records)
        generated = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (state / "ledger").glob("*.jsonl"))
        index_build, _ = whole_process([*base, "runs", "--limit", "1"], 1)
        report_time, out = whole_process([*base, "report"], args.repeat)
        written = sorted(p.name for p in (state / "reports").glob("*.md"))
        index = (state / "reports" / "README.md").read_text()
        if len(written) != args.orchestrations + 1 or not all(f"[{n}]({n}.md)" in index for n in names):
            sys.exit(f"report wrote {len(written)} files, expected {args.orchestrations + 1}: {out}")
        load, update = incremental(repo, state, names[1], args.repeat * 5)
    print_rows(
        [
            ("ledger", f"{args.records:,} records, {runs:,} runs, {size / 1e6:.0f} MB, generated in {generated:.1f} s"),
            ("orchestrations", f"{args.orchestrations} (one schedule each, a trigger on every third)"),
            ("index build, once (orchrecon runs)", f"{index_build:.2f} s"),
            ("desired state from the ledger and git, once per process", f"{load * 1000:.0f} ms"),
        ]
    )
    verdicts = print_targets(
        [
            (
                f"orchrecon report, whole process, median of {args.repeat} < 3 s",
                f"{report_time:.2f} s",
                report_time < 3,
            ),
            (
                f"one run: its report, status file and the index, in-process, median of {args.repeat * 5} < 100 ms",
                f"{update * 1000:.1f} ms",
                update < 0.1,
            ),
        ]
    )
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
