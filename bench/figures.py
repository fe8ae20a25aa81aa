"""What every script in bench/ shares: how figures and targets print, so their reports read alike, and
how their options are checked."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


def print_rows(rows: Sequence[tuple[str, str]]) -> None:
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def print_targets(targets: Sequence[tuple[str, str, bool | None]]) -> list[bool | None]:
    """Each target's label, figure and verdict (None: not measured); returns the verdicts."""
    print()
    width = max(len(label) for label, _, _ in targets)
    print(f"{'target':<{width}}  {'figure':>9}  result")
    for label, figure, ok in targets:
        verdict = "SKIP" if ok is None else "PASS" if ok else "FAIL"
        print(f"{label:<{width}}  {figure:>9}  {verdict}")
    return [ok for _, _, ok in targets]


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


@contextmanager
def work_folder(out: Path | None, prefix: str, seed: int, tools: str) -> Iterator[Path]:
    """The benchmark's folder (`--out`, else a temporary one, removed after), announced with the lines
    every report starts with: where, the seed, the interpreter, the CPUs and `tools` (their versions)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = (out if out is not None else Path(tmp)).absolute()
        work.mkdir(parents=True, exist_ok=True)
        print(f"work: {work}" + ("" if out is not None else " (temporary)") + f", seed {seed}")
        print(f"python: {sys.executable}; {os.cpu_count()} CPUs; {tools}")
        yield work


def out_problem(out: Path | None) -> str | None:
    """Why `--out` cannot be used (it must be an empty or new folder), or None."""
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        return f"--out {out} must be an empty or new folder"
    return None
