"""Start-up: what every command pays before it does anything, against the interpreter's own start.

Each round runs the same virtual environment's `python -c pass` (the floor: the interpreter start every command
pays) and then one command, alternately (A B A B), so that the machine's drift cancels; a command's figure is
the median of its rounds' ratios. The commands: `orchrecon --version`, `--help`, `runs --limit 20` (on a
ledger of --runs-recorded runs), `tables touch T` and `health` (against a live `orchrecon reconcile`).

Targets (issue 16): `--help` within 2x the floor; `runs --limit 20`, `tables touch T` and `health` within 3x.
Then the slowest imports of each command, from `python -X importtime`.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from figures import out_problem, positive, print_rows, print_targets, work_folder
from reconcile import commit_all
from run_overhead import write_repo

PYTHON = Path(sys.executable)
ORCHRECON = PYTHON.parent / "orchrecon"  # the console script pip wrote: the command users type
TARGETS = {"--help": 2.0, "runs --limit 20": 3.0, "tables touch T": 3.0, "health": 3.0}
HEALTHY_WITHIN = 60.0  # seconds for the reconciler to write its first heartbeat


def elapsed(argv: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return seconds


def slowest_imports(argv: Sequence[str], env: dict[str, str], top: int) -> list[tuple[str, str]]:
    """The `top` top-level imports (and those of orchrecon) taking longest, cumulative, from -X importtime."""
    done = subprocess.run(
        [str(PYTHON), "-X", "importtime", "-c", "import sys; from orchrecon.cli import main; sys.exit(main())", *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    found: list[tuple[int, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1 or name.strip().startswith("orchrecon"):
            found.append((int(cumulative), name.rstrip()))
    found.sort(reverse=True)
    return [(name, f"{us / 1000:6.1f} ms") for us, name in found[:top]]


def start_reconciler(repo: Path, state: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(ORCHRECON), "-C", str(repo), "--state-dir", str(state), "reconcile", "--interval", "1h"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + HEALTHY_WITHIN
    health = [str(ORCHRECON), "-C", str(repo), "--state-dir", str(state), "health"]
    while subprocess.run(health, capture_output=True, env=env, check=False).returncode != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            sys.exit(f"the reconciler did not become healthy within {HEALTHY_WITHIN:.0f} s: {err.decode().strip()}")
        time.sleep(0.1)  # polling a process's first heartbeat, with the deadline above
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="work here (an empty or new folder) and keep repository and state")
    parser.add_argument("--rounds", type=positive, default=21, help="floor/command pairs per command (default 21)")
    parser.add_argument("--runs-recorded", type=positive, default=200, help="runs in the ledger (default 200)")
    parser.add_argument("--top", type=positive, default=8, help="imports shown per command (default 8)")
    parser.add_argument("--smoke", action="store_true", help="one round, a few runs, no targets: a check that it works")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if problem := out_problem(args.out):
        parser.error(problem)
    rounds, recorded = (1, 3) if args.smoke else (args.rounds, args.runs_recorded)
    with work_folder(args.out, "orchrecon-startup-", 0, f"orchrecon {ORCHRECON}") as work:
        repo, state = work / "repo", work / "state"
        repo.mkdir()
        write_repo(repo, [1], 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHRECON_")}
        env["ORCHRECON_STATE_DIR"] = str(state)
        commit_all(repo, "bench")
        print(f"recording {recorded} runs ...", flush=True)
        for _ in range(recorded):
            elapsed([str(ORCHRECON), "-C", str(repo), "run", "bench"], env)
        commands = {
            "--version": ["--version"],
            "--help": ["--help"],
            "runs --limit 20": ["-C", str(repo), "runs", "--limit", "20"],
            "tables touch T": ["-C", str(repo), "tables", "touch", "T"],
            "health": ["-C", str(repo), "health"],
        }
        reconciler = start_reconciler(repo, state, env)
        try:
            floor = [str(PYTHON), "-c", "pass"]
            for argv in commands.values():  # once each before timing: the page cache, the index
                elapsed([str(ORCHRECON), *argv], env)
            floors: list[float] = []
            seconds: dict[str, list[float]] = {name: [] for name in commands}
            ratios: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(rounds):
                for name, argv in commands.items():
                    base = elapsed(floor, env)
                    took = elapsed([str(ORCHRECON), *argv], env)
                    floors.append(base)
                    seconds[name].append(took)
                    ratios[name].append(took / base)
            rows = [("python -c pass (floor)", f"{statistics.median(floors) * 1000:6.1f} ms")]
            rows += [
                (
                    f"orchrecon {name}",
                    f"{statistics.median(seconds[name]) * 1000:6.1f} ms, "
                    f"{statistics.median(ratios[name]):.2f}x the floor (median of {rounds} pairs)",
                )
                for name in commands
            ]
            print()
            print_rows(rows)
            for name in ("--help", "runs --limit 20"):
                print(f"\nslowest imports of orchrecon {name} (cumulative, -X importtime):")
                print_rows(slowest_imports(commands[name], env, args.top))
        finally:
            reconciler.send_signal(signal.SIGTERM)
            reconciler.wait(timeout=30)
    if args.smoke:
        return 0
    verdicts = print_targets(
        [
            (
                f"{name} within {limit:.0f}x the floor",
                f"{statistics.median(ratios[name]):.2f}x",
                statistics.median(ratios[name]) <= limit,
            )
            for name, limit in TARGETS.items()
        ]
    )
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    raise SystemExit(main())
