"""Everything that runs git: the working tree's commit, a revision's documents, and the sources the
reconciler follows (a local checkout here, a remote branch in `remote.py`)."""

from __future__ import annotations

import enum
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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


def git_output(root: Path, *args: str) -> str | None:
    """What `git ARGS` run in `root` printed (stripped), or None if it failed or could not run."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def working_tree_revision(root: Path) -> tuple[str | None, bool]:
    """The commit checked out at `root` and whether the repository's files differ from it (None, False
    outside git)."""
    head = git_output(root, "rev-parse", "HEAD")
    if head is None:
        return None, False
    status = git_output(root, "status", "--porcelain", "--untracked-files=normal", "--", ".")
    return head, bool(status)


def user_email(root: Path) -> str | None:
    """git's `user.email` as seen from `root`."""
    return git_output(root, "config", "user.email") or None


DOCUMENT_PATHS = ("orchrecon.yaml", "orchrecon.yml", "configurations", "orchestrations")


def resolve(root: Path, rev: str = "HEAD") -> str | None:
    """The commit `rev` names in the repository at `root`, or None (no commits, unknown ref, not git)."""
    return git_output(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")


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
            # A name that is not UTF-8 reaches validation, which refuses it, as in the working tree.
            entries.append((path.decode(errors="surrogateescape"), sha.decode()))
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


class SourceReason(enum.Enum):
    """Why the source is Ready or not: a closed set, as in Flux's GitRepository conditions."""

    SUCCEEDED = "Succeeded"
    NO_COMMITS = "NoCommits"
    FETCH_FAILED = "FetchFailed"  # unreachable, refused credentials, or a mirror that would not mend
    BRANCH_NOT_FOUND = "BranchNotFound"
    READ_FAILED = "ReadFailed"  # git could not read the documents of a revision


@dataclass(frozen=True, kw_only=True)
class SourceState:
    """What the last look at the source found. `revision` is the newest commit known (None: none yet);
    when the look failed it is the one known before, which keeps running."""

    revision: str | None
    reason: SourceReason
    message: str

    @property
    def ready(self) -> bool:
        return self.reason is SourceReason.SUCCEEDED


class Source(Protocol):
    """Where the reconciler's revisions come from."""

    @property
    def git_dir(self) -> Path:
        """Where git reads revisions (`read_revision`)."""

    def describe(self) -> dict[str, str]:
        """For status files and logs; never credentials."""

    def fetch(self) -> SourceState:
        """Look for the newest commit (fetching it if the source is remote). Blocking; never raises."""

    def workdir(self, revision: str | None) -> Path:
        """The files tasks of a run of `revision` run in. Raises GitError."""

    def keep(self, revisions: set[str]) -> None:
        """Keep these revisions readable and their work trees; the others may go."""


class LocalSource:
    """A checkout on this machine: its newest commit (HEAD), read from git's object store, so an
    uncommitted or half-written working tree is never applied. Tasks run in the working tree."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def git_dir(self) -> Path:
        return self._root

    def describe(self) -> dict[str, str]:
        return {"path": str(self._root.absolute())}

    def fetch(self) -> SourceState:
        revision = resolve(self._root)
        if revision is None:
            return SourceState(revision=None, reason=SourceReason.NO_COMMITS, message=f"no commits in {self._root}")
        return SourceState(revision=revision, reason=SourceReason.SUCCEEDED, message=f"HEAD is {revision[:12]}")

    def workdir(self, revision: str | None) -> Path:
        return self._root

    def keep(self, revisions: set[str]) -> None:
        pass  # the repository's own history is its owner's
