"""Per-task overhead of `orchrecon run` against a bare asyncio floor.

Workloads (each task runs `true`):
  (a) 3 phases of 4, 4 and 2 tasks;
  (b) one phase of 200 tasks with maxParallelJobs 8, then one task.
Prints the whole-process time of `orchrecon run` (median of --runs), the in-process time per task
(from the ledger: run.started to run.finished over the task count) and the same for a plain asyncio
script that spawns the same processes under a semaphore. Targets: (a) < 0.4 s, (b) < 0.6 s whole
process, and (b) in-process per task within 1.5x of the floor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

FLOOR = """
import asyncio, sys, time
phases = [int(n) for n in sys.argv[2].split(",")]
async def one(slots):
    async with slots:
        p = await asyncio.create_subprocess_exec("true")
        await p.wait()
async def main():
    slots = asyncio.Semaphore(int(sys.argv[1]))
    start = time.perf_counter()
    for n in phases:
        async with asyncio.TaskGroup() as g:
            for _ in range(n):
                g.create_task(one(slots))
    print(time.perf_counter() - start)
asyncio.run(main())
"""


def write_repo(root: Path, phases: list[int], max_parallel: int, *, name: str = "bench") -> None:
    """orchrecon.yaml, orchestration `name` of `phases` (task counts) and a configuration per task running `true`."""
    (root / "configurations" / "bench").mkdir(parents=True)
    (root / "orchestrations").mkdir()
    (root / "orchrecon.yaml").write_text(
        f"apiVersion: orchrecon/v1\nkind: Project\nspec: {{maxParallelJobs: {max_parallel}}}\n"
    )
    lines = ["apiVersion: orchrecon/v1", "kind: Orchestration", f"metadata: {{name: {name}}}", "spec:", "  phases:"]
    task = 0
    for p, count in enumerate(phases):
        lines.append(f"    - name: p{p}\n      tasks:")
        for _ in range(count):
            (root / "configurations" / "bench" / f"t{task}.yaml").write_text(
                "apiVersion: orchrecon/v1\nkind: Configuration\n"
                f"metadata: {{component: bench, name: t{task}}}\nspec:\n  run: {{command: ['true']}}\n"
            )
            lines.append(f"        - {{name: t{task}, config: bench/t{task}}}")
            task += 1
    (root / "orchestrations" / f"{name}.yaml").write_text("\n".join(lines) + "\n")


def in_process_seconds(state: Path) -> float:
    """run.started to run.finished of the latest run in the ledger."""
    times: dict[str, datetime] = {}
    for segment in sorted((state / "ledger").glob("*.jsonl")):
        for line in segment.read_text().splitlines():
            record = json.loads(line)
            if record["type"] in ("run.started", "run.finished"):
                times[record["type"]] = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
    return (times["run.finished"] - times["run.started"]).total_seconds()


def measure(name: str, phases: list[int], max_parallel: int, runs: int, target: float) -> bool:
    """The first run on a new state directory is reported apart (it creates the lock files); the rest
    reuse it, as every run after a repository's first does."""
    tasks = sum(phases)
    whole: list[float] = []
    inside: list[float] = []
    floors: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        repo, state = Path(tmp) / "repo", Path(tmp) / "state"
        repo.mkdir()
        write_repo(repo, phases, max_parallel)
        for _ in range(runs + 1):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "run", "bench"],
                capture_output=True,
                text=True,
                check=False,
            )
            whole.append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"orchrecon run failed:\n{done.stdout}\n{done.stderr}")
            inside.append(in_process_seconds(state))
            floor = subprocess.run(
                [sys.executable, "-c", FLOOR, str(max_parallel), ",".join(map(str, phases))],
                capture_output=True,
                text=True,
                check=True,
            )
            floors.append(float(floor.stdout))
    cold_whole, cold_inside = whole.pop(0), inside.pop(0)
    floors.pop(0)
    w, i, f = statistics.median(whole), statistics.median(inside), statistics.median(floors)
    ratio = i / f
    workload = " + ".join(map(str, phases))
    print(f"\n({name}) {workload} tasks of `true`, maxParallelJobs {max_parallel}, median of {runs}")
    print(f"  orchrecon run, whole process   {w:.3f} s   target < {target} s   {'PASS' if w < target else 'FAIL'}")
    print(f"  in-process per task            {i / tasks * 1000:.2f} ms")
    print(f"  asyncio floor per task         {f / tasks * 1000:.2f} ms   (in-process {f:.3f} s)")
    print(f"  ratio to the floor             {ratio:.2f}x   target <= 1.5x")
    print(f"  first run on a new state dir   {cold_whole:.3f} s whole, {cold_inside / tasks * 1000:.2f} ms per task")
    return w < target and (name != "b" or ratio <= 1.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    ok = measure("a", [4, 4, 2], 8, args.runs, 0.4)
    ok = measure("b", [200, 1], 8, args.runs, 0.6) and ok
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    raise SystemExit(main())
