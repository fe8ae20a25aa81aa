"""`orchrecon validate [PATH…]`: schema and semantic checks, for people, programs and GitHub."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from orchrecon import gitsource
from orchrecon.commands import Subparsers
from orchrecon.documents import reporters
from orchrecon.documents.layout import find_root, is_repository
from orchrecon.documents.repository import validate_tree
from orchrecon.errors import NotFoundError, OrchreconError, Severity, UsageError


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("validate", parents=[common])
    p.add_argument("paths", nargs="*", metavar="PATH", help="report only these files or folders")
    p.add_argument("--format", choices=["text", "json", "github"], default="text")
    p.set_defaults(handler=lambda a: run(repo=a.repo, paths=a.paths, fmt=a.format, environ=os.environ, out=sys.stdout))


def run(*, repo: Path, paths: Sequence[str], fmt: str, environ: Mapping[str, str], out: TextIO) -> int:
    if "" in paths:
        raise UsageError("PATH is empty; leave it out to validate the whole repository")
    try:
        root = find_root(Path(paths[0]) if paths and not is_repository(repo) and repo == Path() else repo)
    except NotFoundError:
        raise
    except UsageError as exc:  # a state directory alone holds no documents to check
        raise UsageError(f"validate needs a repository: {exc}") from None
    selected = [_relative(root, Path(p)) for p in paths]
    result = validate_tree(root)

    def wanted(file: str) -> bool:
        return not selected or any(s in ("", ".") or file == s or file.startswith(s + "/") for s in selected)

    shown = [d for d in result.diagnostics if wanted(d.file)]
    hidden_errors = [d for d in result.errors if not wanted(d.file)]
    files = len({f for f in result.checked_files if wanted(f)})
    if fmt == "json":
        out.write(reporters.render_json(shown))
    elif fmt == "github":
        base = environ.get("GITHUB_BASE_REF")
        changed = gitsource.changed_files(root, f"origin/{base}") if base else set()
        out.write(reporters.render_github(shown, changed))
        summary = environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            try:
                with Path(summary).open("a", encoding="utf-8") as f:
                    f.write(reporters.render_summary(shown, files))
            except OSError as exc:
                raise OrchreconError(f"cannot append to GITHUB_STEP_SUMMARY {summary}: {exc.strerror}") from None
    else:
        out.write(reporters.render_text(shown, files))
    if hidden_errors:
        others = len({d.file for d in hidden_errors})
        print(
            f"orchrecon: {reporters.plural(len(hidden_errors), 'error')} in "
            f"{reporters.plural(others, 'other file')} (run orchrecon validate without PATH to see them)",
            file=sys.stderr,
        )
    return 1 if any(d.severity is Severity.ERROR for d in shown) or hidden_errors else 0


def _relative(root: Path, path: Path) -> str:
    if not path.exists():
        raise NotFoundError(f"no such file or folder: {path}")
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"{path} is outside the repository {root}") from None
