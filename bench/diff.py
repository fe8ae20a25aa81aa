"""Benchmark `orchrecon diff --base` on a git repository of 1,000 orchestrations of which 10 change.

    python bench/diff.py [--out DIR] [--runs 5] [--seed 2026] [--check]

The repository is bench/validate.py's (deterministic for a given seed: 1,000 orchestrations of three phases of
ten tasks and 1,000 configurations, all valid), committed to git on `main`. Then ten orchestrations, spread over
the repository, are edited in the working tree, two each of five kinds: a task renamed, a task moved to the next
phase, a task disabled or enabled, the schedule moved into Prague's DST window, a task's parameters changed.

One JSON run first checks that exactly those ten orchestrations are reported changed, with the change made,
and nothing else; then `orchrecon diff --base main` (markdown, the pull-request comment) is timed as a whole
process, median of `--runs`. Target: under 2.0 s.

It exits 0 whatever the figures are (`--check`: 1 when the target is missed), 1 when diff does not report what
was changed (the benchmark then means nothing), and 2 on usage errors. Standard library, PyYAML and orchrecon.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from figures import out_problem, positive, print_rows, print_targets
from validate import SCHEMA_IN_REPO, generate, to_yaml

TARGET_SECONDS = 2.0
CHANGED = 10
FROM = "2027-03-26T00:00Z"


def _rename(doc: dict[str, Any]) -> str:
    task = doc["spec"]["phases"][0]["tasks"][0]
    task["name"] += "-renamed"
    return "renamedFrom"


def _move(doc: dict[str, Any]) -> str:
    phases = doc["spec"]["phases"]
    phases[1]["tasks"].append(phases[0]["tasks"].pop())
    return "movedFrom"


def _toggle(doc: dict[str, Any]) -> str:
    task = doc["spec"]["phases"][1]["tasks"][0]
    task["enabled"] = not task.get("enabled", True)
    return "enabled"


def _reschedule(doc: dict[str, Any]) -> str:
    doc["spec"]["schedules"] = [{"cron": "30 2 * * *", "timezone": "Europe/Prague"}]
    return "schedules"


def _parameters(doc: dict[str, Any]) -> str:
    task = doc["spec"]["phases"][-1]["tasks"][0]
    task["parameters"] = {**task.get("parameters", {}), "benchDays": 99}
    return "parameters"


EDITS: tuple[Callable[[dict[str, Any]], str], ...] = (_rename, _move, _toggle, _reschedule, _parameters)


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


def edit(repo: Path, orchestrations: int) -> dict[str, str]:
    """Edit CHANGED orchestrations spread over the repository; returns name -> the JSON key the edit shows as."""
    step = orchestrations // CHANGED
    edited = {}
    for k in range(CHANGED):
        name = f"o-{k * step + 1:04d}"
        path = repo / "orchestrations" / f"{name}.yaml"
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        edited[name] = EDITS[k % len(EDITS)](doc)
        path.write_text(to_yaml(doc, f"../{SCHEMA_IN_REPO}"), encoding="utf-8")
    return edited


def diff_argv(repo: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "orchrecon", "-C", str(repo), "diff", "--base", "main", "--from", FROM, *extra]


def check_json(repo: Path, edited: dict[str, str]) -> None:
    """Exactly the edited orchestrations change, each showing its edit; exits 1 otherwise."""
    done = subprocess.run(diff_argv(repo, "--format", "json"), capture_output=True, text=True, check=False)
    if done.returncode != 1:
        print(f"orchrecon diff --format json exited {done.returncode}:\n{done.stderr}", file=sys.stderr)
        sys.exit(1)
    data = json.loads(done.stdout)
    changed = {o["name"]: o for o in data["orchestrations"]}
    problems = []
    if set(changed) != set(edited) or any(o["change"] != "changed" for o in changed.values()):
        problems.append(f"changed orchestrations {sorted(changed)}, expected {sorted(edited)}")
    if data["configurations"] or data["project"] or not data["validation"]["valid"]:
        problems.append("configurations, project settings or validation changed too")
    for name, key in edited.items():
        shown = changed.get(name, {})
        if key not in shown and not any(key in t for t in shown.get("tasks", [])):
            problems.append(f"{name}: its edit ({key}) is not shown")
    if problems:
        print("orchrecon diff does not report what was changed:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_markdown(repo: Path, runs: int) -> tuple[list[float], list[float], int]:
    """Wall and CPU seconds of each whole-process markdown run, and the comment's length. CPU time tells how
    much of the wall time was the machine's other load."""
    seconds: list[float] = []
    cpu: list[float] = []
    length = 0
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), _children_cpu()
        done = subprocess.run(diff_argv(repo), capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - start_cpu)
        if done.returncode != 1 or not done.stdout.startswith(f"**{CHANGED} orchestrations change**"):
            print(f"orchrecon diff exited {done.returncode}:\n{done.stdout[:300]}{done.stderr}", file=sys.stderr)
            sys.exit(1)
        length = len(done.stdout)
    return seconds, cpu, length


def report(
    *, files: int, seconds: Sequence[float], cpu: Sequence[float], length: int, edited: dict[str, str]
) -> list[bool | None]:
    median = statistics.median(seconds)
    kinds = ", ".join(sorted(set(edited.values())))
    print_rows(
        [
            ("files", f"{files} documents, committed on main"),
            ("changed in the working tree", f"{len(edited)} orchestrations ({kinds})"),
            ("markdown comment", f"{length:,} characters"),
            (f"orchrecon diff --base main, median of {len(seconds)}", f"{median:.3f} s"),
            ("orchrecon diff --base main, min", f"{min(seconds):.3f} s"),
            ("orchrecon diff --base main, CPU (user+sys), median", f"{statistics.median(cpu):.3f} s"),
        ]
    )
    return print_targets(
        [(f"orchrecon diff whole process under {TARGET_SECONDS:.1f} s", f"{median:.3f} s", median < TARGET_SECONDS)]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, help="generate the repository here (an empty or new folder) and keep it")
    parser.add_argument("--runs", type=positive, default=5, help="timed runs of orchrecon diff (default 5)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generator (default 2026)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problem = out_problem(args.out)
    if problem:
        print(f"diff.py: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="orchrecon-bench-") as tmp:
        repo = (args.out if args.out is not None else Path(tmp)).absolute()
        repo.mkdir(parents=True, exist_ok=True)
        files = generate(repo, seed=args.seed, orchestrations=1000, per_component=100)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "generated")
        edited = edit(repo, 1000)
        print(f"repository: {repo}" + ("" if args.out is not None else " (temporary)") + f", seed {args.seed}")
        print(f"python: {sys.executable}")
        check_json(repo, edited)
        seconds, cpu, length = time_markdown(repo, args.runs)
        print()
        verdicts = report(files=len(files), seconds=seconds, cpu=cpu, length=length, edited=edited)
    return 1 if args.check and any(ok is False for ok in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
