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


DOCUMENT_PATHS = ("orchrecon.yaml", "orchrecon.yml", "configurations", "orchestrations")


def resolve(root: Path, rev: str = "HEAD") -> str | None:
    """The commit `rev` names in the repository at `root`, or None (no commits, unknown ref, not git)."""
    return _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")


def read_revision(root: Path, commit: str) -> dict[str, bytes]:
    """The document files of `commit` (repository-relative path -> bytes), read from git's object
    store, never from the working tree. Raises GitError if git cannot read them."""
    listing = _git_bytes(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *DOCUMENT_PATHS)
    entries = []
    for item in listing.split(b"\0"):
        if not item:
            continue
        meta, _, path = item.partition(b"\t")
        mode, kind, sha = meta.split(b" ")
        if kind == b"blob" and mode != b"120000":  # symbolic links are not followed, as in the working tree
            entries.append((path.decode(), sha.decode()))
    if not entries:
        return {}
    batch = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=root,
        input=b"".join(f"{sha}\n".encode() for _, sha in entries),
        capture_output=True,
        check=False,
        timeout=120,
    )
    if batch.returncode != 0:
        raise GitError(f"git cat-file failed in {root}: {batch.stderr.decode(errors='replace').strip()}")
    files: dict[str, bytes] = {}
    out, pos = batch.stdout, 0
    for name, _ in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split(b" ")[2])
        files[name] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1  # the content, then a newline
    return files


class GitError(Exception):
    """git could not do what was asked; the message names the repository, never credentials."""


def _git_bytes(root: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, check=False, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitError(f"cannot run git in {root}: {exc}") from None
    if done.returncode != 0:
        raise GitError(f"git {args[0]} failed in {root}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
