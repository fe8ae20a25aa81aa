"""Everything that runs git."""

from __future__ import annotations

import subprocess
from pathlib import Path


def changed_files(root: Path, base: str) -> set[str]:
    """Files changed since the merge base of `base` and HEAD, relative to `root`; empty if git cannot tell."""
    try:
        out = subprocess.run(
            ["git", "diff", "--name-only", "--relative", f"{base}...HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line for line in out.splitlines() if line}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def working_tree_revision(root: Path) -> tuple[str | None, bool]:
    """The commit checked out at `root` and whether the repository's files differ from it (None, False
    outside git)."""
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return None, False
    status = _git(root, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    return head, bool(status)


def user_email(root: Path) -> str | None:
    """git's `user.email` as seen from `root`."""
    return _git(root, "config", "user.email") or None
