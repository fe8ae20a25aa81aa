"""`orchrecon diff --base REV`: what the working tree changes against a git revision, for a pull request.

Exit codes as `flux diff`: 0 nothing changes, 1 something changes (an invalid document too), 2 usage errors and
unknown revisions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from orchrecon import gitsource
from orchrecon.clock import Clock, SystemClock, parse_time
from orchrecon.commands import Subparsers
from orchrecon.documents.layout import find_root
from orchrecon.documents.repository import validate_tree
from orchrecon.documents.validation import validate_files
from orchrecon.errors import UsageError
from orchrecon.reports.diff import asjson, markdown
from orchrecon.reports.diff.compare import compare


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("diff", parents=[common])
    p.add_argument("--base", required=True, metavar="REV", help="the revision to compare with, e.g. origin/main")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown")
    p.add_argument("--from", dest="start", metavar="TIME", help="fire times after this instant (default: now)")
    p.set_defaults(
        handler=lambda a: run(
            repo=a.repo, base=a.base, fmt=a.format, start=a.start, out=sys.stdout, clock=SystemClock()
        )
    )


def run(*, repo: Path, base: str, fmt: str, start: str | None, out: TextIO, clock: Clock) -> int:
    root = find_root(repo)
    try:
        now = parse_time(start) if start else clock.now()
    except ValueError:
        raise UsageError(f"--from {start!r} is not an instant with a zone, e.g. 2026-03-28T00:00Z") from None
    commit = gitsource.resolve(root, base) if base and not base.startswith("-") else None
    if commit is None:
        if gitsource.git_output(root, "rev-parse", "--git-dir") is None:
            raise UsageError(f"unknown revision {base!r}: {root} is not in a git repository")
        raise UsageError(f"unknown revision {base!r} (a remote branch must be fetched first)")
    tree = _tree(root, commit)
    try:
        files = gitsource.read_revision(root, tree) if tree else {}
    except gitsource.GitError as exc:
        raise UsageError(str(exc)) from None
    head = validate_tree(root)
    # Most documents are the same on both sides: the base reuses the working tree's, parsed once.
    diff = compare(validate_files(files, known=head.documents), head, base_name=base, commit=commit, now=now)
    if fmt == "json":
        out.write(json.dumps(asjson.to_json(diff), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(markdown.render(diff))
    return 1 if diff.changes else 0


def _tree(root: Path, commit: str) -> str | None:
    """The tree holding the repository's documents at `commit`: the commit itself, or its subfolder when the
    orchestration repository is a folder inside a larger git repository (None: that folder did not exist yet)."""
    prefix = (gitsource.git_output(root, "rev-parse", "--show-prefix") or "").rstrip("/")
    if not prefix:
        return commit
    tree = f"{commit}:{prefix}"
    return tree if gitsource.git_output(root, "rev-parse", "--verify", "--quiet", tree) is not None else None
