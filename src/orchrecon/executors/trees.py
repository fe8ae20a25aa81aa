"""A revision's files as one compressed archive, for workers on other machines (which have no git).

The archive is deterministic (sorted names, no times, owners or modes beyond the executable bit), so its hash
names a dirty tree's content and the same tree is never shipped or unpacked twice.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LIMIT = 100 * 1024 * 1024  # compressed bytes


class TreeTooLargeError(Exception):
    pass


@dataclass(frozen=True)
class Tree:
    key: str  # the commit id, or `<commit>-<content hash>` for a working tree with changes
    archive: bytes  # tar.gz

    @property
    def size(self) -> int:
        return len(self.archive)


def pack(root: Path, *, revision: str | None, dirty: bool, limit: int = DEFAULT_LIMIT) -> Tree:
    """The files of `root`: in a git working tree the tracked and untracked files git does not ignore (what the
    run's definition was read from, without `.git` or build output), else every file under it."""
    names = _listed(root)
    buffer = io.BytesIO()
    # mtime=0: the same files give the same bytes, so the hash below names the content.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in names:
            path = root / name
            try:
                info = tar.gettarinfo(str(path), arcname=name)
            except FileNotFoundError:  # listed, then deleted (an untracked file): not part of the tree
                continue
            if not (info.isfile() or info.issym()):
                continue
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.mode = 0o755 if info.mode & 0o100 else 0o644
            if info.isfile():
                with path.open("rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
            if buffer.tell() > limit:
                break
    archive = buffer.getvalue()
    if len(archive) > limit:
        raise TreeTooLargeError(
            f"the files of the run's revision are more than {_mib(limit)} compressed, the limit for sending them"
            " to Dask workers: keep large data out of the repository (or in .gitignore)"
        )
    base = revision or "worktree"
    if dirty or revision is None:
        return Tree(key=f"{base}-{hashlib.sha256(archive).hexdigest()[:16]}", archive=archive)
    return Tree(key=base, archive=archive)


def _listed(root: Path) -> list[str]:
    if (root / ".git").exists():
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
        return sorted({os.fsdecode(n) for n in listed.split(b"\0") if n})
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if not path.is_dir())


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"
