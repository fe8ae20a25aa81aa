"""`reconcile --watch`: notice a new commit in a local checkout at once (watchfiles, inotify).

Only what moves when a commit lands is watched for: `HEAD`, `packed-refs` and `refs/`, never objects
or the working tree, since the reconciler applies commits, not files being edited. The burst of writes
a commit makes is debounced into one notice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from orchrecon.gitsource import git_output

STEP_MS = 50  # quiet time that ends a burst
DEBOUNCE_MS = 400  # longest a burst is gathered


def git_dirs(root: Path) -> tuple[Path, ...]:
    """The checkout's git directory and, for a linked work tree, the common one holding the refs."""
    out = git_output(root, "rev-parse", "--absolute-git-dir", "--git-common-dir")
    if out is None:
        return ()
    own, common = out.split("\n")[:2]
    return tuple(dict.fromkeys([Path(own), (root / common).resolve() if common else Path(own)]))


async def watch_commits(root: Path, changed: Callable[[], None], stop: asyncio.Event) -> None:
    """Call `changed` after each burst of ref changes under `root`'s git directories, until `stop`."""
    dirs = git_dirs(root)
    if not dirs:
        return

    def refs_only(change: Change, path: str) -> bool:
        where = Path(path)
        for top in dirs:
            if where.is_relative_to(top):
                rel = where.relative_to(top).as_posix()
                return not rel.endswith(".lock") and (rel in ("HEAD", "packed-refs") or rel.startswith("refs/"))
        return False

    async for _ in awatch(*dirs, watch_filter=refs_only, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=stop):
        changed()
