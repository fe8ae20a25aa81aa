"""A branch of a remote repository, followed through a bare mirror in the state directory (GitPython).

`source/mirror.git` holds what was fetched; `source/trees/<commit>/` is the work tree of a revision
whose runs need files (scripts). Both are made under a temporary name and renamed into place, so a
process killed half-way leaves nothing that looks complete. A fetch that fails while the remote is
reachable means the mirror is damaged (a stale lock, lost objects, a truncated file): it is rebuilt
from the remote, once per look. Revisions that orchestrations still apply are pinned under
`refs/orchrecon/keep/`, so neither a force-push nor git's garbage collection loses the last good one.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from orchrecon.gitsource import GitError, SourceReason, SourceState, git_output, resolve
from orchrecon.gitsource.credentials import Credentials

if TYPE_CHECKING:
    import git

FETCH_TIMEOUT_SECONDS = 300.0
KEEP_PREFIX = "refs/orchrecon/keep/"
MIRROR = "mirror.git"  # under the state directory's source/


class RemoteSource:
    def __init__(self, url: str, branch: str, root: Path, environ: Mapping[str, str]) -> None:
        self._credentials = Credentials.from_url(url, environ)
        self._branch = branch
        self._root = root
        self._mirror = root / MIRROR
        self._trees = root / "trees"
        self._tracking = f"refs/remotes/origin/{branch}"
        self._env = self._credentials.environment()

    @property
    def git_dir(self) -> Path:
        return self._mirror

    def describe(self) -> dict[str, str]:
        return {"url": self._credentials.url, "branch": self._branch}

    # -- fetching ------------------------------------------------------------------------------------

    def fetch(self) -> SourceState:
        try:
            self._fetch()
        except (GitError, OSError) as first:
            return self._diagnose(first)
        return self._fetched()

    def _fetched(self) -> SourceState:
        revision = resolve(self._mirror, self._tracking)
        if revision is None:  # fetch said yes, yet the ref is unreadable: treat as damage next time
            unreadable = f"the fetched branch {self._branch!r} is unreadable in {self._mirror}"
            return SourceState(revision=None, reason=SourceReason.FETCH_FAILED, message=unreadable)
        return SourceState(
            revision=revision,
            reason=SourceReason.SUCCEEDED,
            message=f"fetched {self._branch} at {revision[:12]} from {self._credentials.url}",
        )

    def _diagnose(self, error: GitError | OSError) -> SourceState:
        known = resolve(self._mirror, self._tracking) if self._mirror.is_dir() else None
        heads = self._ls_remote()
        if heads is None:
            return SourceState(revision=known, reason=SourceReason.FETCH_FAILED, message=str(error))
        if not heads:
            return SourceState(
                revision=known,
                reason=SourceReason.BRANCH_NOT_FOUND,
                message=f"branch {self._branch!r} is not in {self._credentials.url}",
            )
        try:  # the remote answers and has the branch: our mirror is what is broken
            self._rebuild()
            self._fetch()
        except (GitError, OSError) as again:
            return SourceState(revision=known, reason=SourceReason.FETCH_FAILED, message=str(again))
        return self._fetched()

    def _fetch(self) -> None:
        repo = self._open()
        refspec = f"+refs/heads/{self._branch}:{self._tracking}"
        self._run(repo.git, "fetch", "--no-tags", "--no-write-fetch-head", "origin", refspec)

    def _open(self) -> git.Repo:
        import git  # noqa: PLC0415 - GitPython costs 80 ms to import; only a remote source needs it

        if not self._mirror.is_dir():
            _discard(self._mirror)
            self._create()
        try:
            repo = git.Repo(self._mirror)
            origin = repo.remote("origin")
            if origin.url != self._credentials.url:  # --git changed between starts
                origin.set_url(self._credentials.url)
        except (git.GitError, ValueError, OSError, configparser.Error) as exc:  # damaged files of any kind
            raise GitError(f"the mirror {self._mirror} is unreadable: {type(exc).__name__}") from None
        return repo

    def _create(self) -> None:
        import git  # noqa: PLC0415 - see _open

        self._root.mkdir(parents=True, exist_ok=True)
        building = self._root / f".mirror.{os.getpid()}.tmp"
        _discard(building)
        try:
            repo = git.Repo.init(building, bare=True)
            repo.create_remote("origin", self._credentials.url)
            repo.close()
        except (git.GitError, OSError) as exc:
            raise GitError(f"cannot create a mirror in {self._root}: {exc}") from None
        building.rename(self._mirror)

    def _rebuild(self) -> None:
        """Replace the mirror by an empty one (the remote fills it again)."""
        broken = self._root / f".mirror.{os.getpid()}.broken"
        _discard(broken)
        if self._mirror.exists() or self._mirror.is_symlink():
            self._mirror.rename(broken)  # out of the way at once: a half-deleted mirror is never opened
        _discard(broken)
        self._create()

    def _ls_remote(self) -> list[str] | None:
        """The branch's commit at the remote ([] if it has no such branch); None if it cannot be asked."""
        import git  # noqa: PLC0415 - see _open

        try:
            out = self._run(git.Git(), "ls-remote", "--heads", self._credentials.url, f"refs/heads/{self._branch}")
        except GitError:
            return None
        return [line.split()[0] for line in out.splitlines() if line.strip()]

    def _run(self, git_cmd: git.Git, command: str, *args: str) -> str:
        import git  # noqa: PLC0415 - see _open

        call = getattr(git_cmd(c=self._credentials.options()), command.replace("-", "_"))
        try:
            out: str = call(*args, env=self._env, kill_after_timeout=FETCH_TIMEOUT_SECONDS)
        except git.GitCommandError as exc:
            raise GitError(self._explain(command, exc)) from None
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror}") from None
        return out

    def _explain(self, command: str, exc: git.GitCommandError) -> str:
        """One line naming the remote and git's own words, never the command line nor credentials."""
        raw = str(exc.stderr or "").strip().removeprefix("stderr:").strip().strip("'")
        lines = [line.strip() for line in raw.splitlines() if line.strip()]
        said = next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[-1] if lines else "")
        said = said.removeprefix("fatal: ").removeprefix("error: ") or f"exit status {exc.status}"
        return self._credentials.redact(f"git {command} of {self._credentials.url} failed: {said}")

    # -- work trees ----------------------------------------------------------------------------------

    def workdir(self, revision: str | None) -> Path:
        if revision is None:
            raise GitError("a run of a remote source needs the revision it was defined in")
        target = self._trees / revision
        if target.is_dir():
            return target
        self._trees.mkdir(parents=True, exist_ok=True)
        building = self._trees / f".{revision}.{os.getpid()}.tmp"
        _discard(building)
        try:
            extract(self._mirror, revision, building)
        except GitError:
            _discard(building)
            raise
        building.rename(target)
        return target

    def keep(self, revisions: set[str]) -> None:
        """Pin `revisions` in the mirror and drop the pins and work trees of all others, and what a
        killed process left half-built."""
        if self._mirror.is_dir():
            pinned = set((git_output(self._mirror, "for-each-ref", "--format=%(refname)", KEEP_PREFIX) or "").split())
            wanted = {KEEP_PREFIX + r for r in revisions}
            for ref in pinned - wanted:
                git_output(self._mirror, "update-ref", "-d", ref)
            for ref in sorted(wanted - pinned):  # one by one: a revision the mirror lost must not stop the rest
                git_output(self._mirror, "update-ref", ref, ref.removeprefix(KEEP_PREFIX))
        ours = f".{os.getpid()}.tmp"  # being built by a thread of this process right now
        leftovers = [e for e in self._root.glob(".mirror.*") if not e.name.endswith(ours)]
        if self._trees.is_dir():
            leftovers += [e for e in self._trees.iterdir() if e.name not in revisions and not e.name.endswith(ours)]
        for entry in leftovers:
            _discard(entry)


def extract(git_dir: Path, revision: str, target: Path) -> None:
    """Write the files of `revision` into the folder `target` (made if missing) with `git archive`.
    Raises GitError; `target` may then hold part of the files."""
    archive = subprocess.Popen(
        ["git", "archive", "--format=tar", revision],
        cwd=git_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert archive.stdout is not None
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(target, filter="data")  # refuses paths and links that leave the tree
    except (tarfile.TarError, OSError) as exc:
        archive.kill()
        archive.wait()
        raise GitError(f"cannot check out {revision[:12]} into {target.parent}: {exc}") from None
    _, err = archive.communicate()
    if archive.returncode != 0:
        raise GitError(f"git archive {revision[:12]} failed: {err.decode(errors='replace').strip()}")


def _discard(path: Path) -> None:
    """Remove a file, a link or a folder (and what is in it), if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
