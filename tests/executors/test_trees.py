"""The run's files as one archive for Dask workers: what goes in, its key, and the size limit."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from orchrecon.executors import remote
from orchrecon.executors.trees import Tree, TreeTooLargeError, pack
from tests.builders import git, small_repo, write


def names(tree: Tree) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(tree.archive), mode="r:gz") as tar:
        return tar.getnames()


def test_a_working_tree_ships_what_git_lists_and_nothing_it_ignores(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    write(root, ".gitignore", "data/\n")
    write(root, "data/big.csv", "a,b\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "seed")
    write(root, "jobs/new.py", "print('untracked, not ignored')\n")
    tree = pack(root, revision="abc123", dirty=True)
    assert names(tree) == [".gitignore", "configurations/ex/a.yaml", "jobs/new.py", "orchestrations/daily.yaml"]
    assert tree.key.startswith("abc123-")


def test_the_same_files_give_the_same_bytes_and_a_clean_revision_is_named_by_its_commit(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    first = pack(root, revision="abc123", dirty=False)
    os.utime(root / "configurations/ex/a.yaml", (0, 0))  # times are not part of the archive
    second = pack(root, revision="abc123", dirty=False)
    assert first == second
    assert first.key == "abc123"
    unchanged = pack(small_repo(tmp_path / "other"), revision="abc123", dirty=True)
    write(root, "jobs/x.py", "changed\n")
    assert pack(root, revision="abc123", dirty=True).key != unchanged.key


def test_an_executable_keeps_its_bit_and_nothing_else_of_its_owner(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    script = write(root, "jobs/run.sh", "#!/bin/sh\ntrue\n")
    script.chmod(0o750)
    with tarfile.open(fileobj=io.BytesIO(pack(root, revision=None, dirty=False).archive), mode="r:gz") as tar:
        info = tar.getmember("jobs/run.sh")
    assert (info.mode, info.uid, info.gid, info.uname, info.mtime) == (0o755, 0, 0, "", 0)


def test_files_above_the_limit_are_refused_with_what_to_do(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    write(root, "data/noise.bin", os.urandom(200_000).hex())
    with pytest.raises(TreeTooLargeError) as raised:
        pack(root, revision="abc123", dirty=False, limit=100_000)
    assert str(raised.value) == (
        "the files of the run's revision are more than 0.0953674 MiB compressed, the limit for sending them to Dask"
        " workers: keep large data out of the repository (or in .gitignore)"
    )


def test_a_worker_keeps_the_trees_in_use_and_the_most_recent_others(tmp_path: Path) -> None:
    root = small_repo(tmp_path / "repo")
    archive = pack(root, revision=None, dirty=False).archive
    base = tmp_path / "worker" / "orchrecon-trees"
    remote._unpack(base, "in-use", archive)  # a task still runs in it: never pruned
    for n in range(remote.TREES_KEPT + 3):
        tree = f"rev{n:02}"
        assert (remote._unpack(base, tree, archive) / "orchestrations" / "daily.yaml").is_file()
        os.utime(base / tree, (n, 1_000_000 + n))  # a clock of its own: use order, not the file system's resolution
        remote._done_with(tree)
    newest = [f"rev{n:02}" for n in range(4, remote.TREES_KEPT + 3)]  # with the one in use, TREES_KEPT in all
    assert sorted(p.name for p in base.iterdir()) == ["in-use", *newest]
    remote._done_with("in-use")
