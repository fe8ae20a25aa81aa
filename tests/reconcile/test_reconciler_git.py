"""The reconciler following a remote branch: a real bare remote, a clone pushing to it, real git."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from orchrecon.cli import main
from orchrecon.gitsource.remote import RemoteSource
from tests.builders import ORCHESTRATION, clone_with_remote, git, write
from tests.conftest import ROOT
from tests.gitserver import git_http_server
from tests.statuses import read_status

RECONCILER_SCHEMA = json.loads((ROOT / "schema" / "reconciler-status.schema.json").read_text())


BROKEN = "apiVersion: orchrecon/v1\nkind: Orchestration\nmetadata: {name: daily}\n"


def _push(clone: Path, message: str, *, force: bool = False) -> str:
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", message, "--allow-empty")
    git(clone, "push", "-q", *(["--force"] if force else []), "origin", "main")
    return git(clone, "rev-parse", "HEAD").strip()


def _pass(url: str, state: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """One `reconcile --once` against the remote; its exit code and stderr."""
    code = main(["reconcile", "--git", url, "--branch", "main", "--state-dir", str(state), "--once"])
    return code, capsys.readouterr().err


def _source(state: Path) -> dict[str, Any]:
    status: dict[str, Any] = json.loads((state / "status" / "_reconciler.json").read_text())
    jsonschema.validate(status, RECONCILER_SCHEMA)
    condition = status["conditions"][0]
    return {"revision": status["source"]["revision"], "status": condition["status"], "reason": condition["reason"]}


def _ready(status: dict[str, Any]) -> tuple[str, str, str | None]:
    condition = status["conditions"][0]
    return condition["status"], condition["reason"], status["appliedRevision"]


@pytest.fixture
def remote(tmp_path: Path) -> tuple[str, Path, str]:
    """The remote's URL, a clone that pushes to it, and the first commit."""
    clone = clone_with_remote(tmp_path)
    return str(tmp_path / "remote.git"), clone, git(clone, "rev-parse", "HEAD").strip()


def test_the_last_good_revision_is_kept_and_the_newest_valid_one_wins(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, clone, first = remote
    state = tmp_path / "state"
    assert _pass(url, state, capsys) == (0, "")
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded", first)
    write(
        clone, "orchestrations/daily.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\nmetadata: {name: daily}\n"
    )
    broken = _push(clone, "break daily")
    assert _pass(url, state, capsys) == (0, "")
    status = read_status(state, "daily")
    assert _ready(status) == ("False", "ValidationFailed", first)
    assert status["lastAttemptedRevision"] == broken
    assert status["diagnostics"] == [
        {
            "file": "orchestrations/daily.yaml",
            "line": 1,
            "col": 1,
            "path": "$",
            "message": "missing required property 'spec'",
        }
    ]
    write(clone, "orchestrations/daily.yaml", ORCHESTRATION.format(name="daily", config="ex/a"))
    fixed = _push(clone, "fix daily")
    assert _pass(url, state, capsys) == (0, "")
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded", fixed)


def _add_weekly_and_pass(clone: Path, url: str, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(clone, "orchestrations/weekly.yaml", ORCHESTRATION.format(name="weekly", config="ex/a"))
    _push(clone, "add weekly")
    assert _pass(url, state, capsys) == (0, "")


def test_a_deleted_orchestration_says_removed_and_its_history_stays(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, clone, _ = remote
    state = tmp_path / "state"
    _add_weekly_and_pass(clone, url, state, capsys)
    (clone / "orchestrations" / "weekly.yaml").unlink()
    removed = _push(clone, "remove weekly")
    assert _pass(url, state, capsys) == (0, "")
    status = read_status(state, "weekly")
    assert (status["conditions"][0]["reason"], status["lastAttemptedRevision"]) == ("Removed", removed)
    assert (status["schedules"], status["trigger"]) == ([], None)


def test_a_force_pushed_older_history_is_followed(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, clone, first = remote
    state = tmp_path / "state"
    _add_weekly_and_pass(clone, url, state, capsys)
    git(clone, "reset", "-q", "--hard", first)
    _push(clone, "rewrite history", force=True)
    rewritten = git(clone, "rev-parse", "HEAD").strip()
    assert _pass(url, state, capsys) == (0, "")
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded", rewritten)
    assert read_status(state, "weekly")["conditions"][0]["reason"] == "Removed"
    assert _source(state) == {"revision": rewritten, "status": "True", "reason": "Succeeded"}


def test_an_unreachable_remote_is_reported_and_the_last_good_revision_keeps_running(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, clone, first = remote
    state = tmp_path / "state"
    _pass(url, state, capsys)
    Path(url).rename(tmp_path / "away.git")
    code, err = _pass(url, state, capsys)
    assert code == 1
    assert err == f"orchrecon: error: source not ready (FetchFailed): git fetch of {url} failed: '{url}' does not " + (
        "appear to be a git repository\n"
    )
    assert _source(state) == {"revision": first, "status": "False", "reason": "FetchFailed"}
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded", first)
    (tmp_path / "away.git").rename(url)
    newer = _push(clone, "while it was away")
    assert _pass(url, state, capsys) == (0, "")
    assert _source(state) == {"revision": newer, "status": "True", "reason": "Succeeded"}
    assert read_status(state, "daily")["appliedRevision"] == newer


def test_a_deleted_branch_is_reported_and_a_recreated_one_is_followed(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, clone, first = remote
    state = tmp_path / "state"
    _pass(url, state, capsys)
    git(Path(url), "update-ref", "-d", "refs/heads/main")
    code, err = _pass(url, state, capsys)
    assert (code, err) == (1, f"orchrecon: error: source not ready (BranchNotFound): branch 'main' is not in {url}\n")
    assert _source(state) == {"revision": first, "status": "False", "reason": "BranchNotFound"}
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded", first)
    again = _push(clone, "the branch is back")
    assert _pass(url, state, capsys) == (0, "")
    assert read_status(state, "daily")["appliedRevision"] == again


@pytest.mark.parametrize("damage", ["objects gone", "HEAD garbage", "config truncated", "mirror is a file"])
def test_a_damaged_or_half_written_mirror_is_rebuilt(
    damage: str, remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, clone, first = remote
    state = tmp_path / "state"
    _pass(url, state, capsys)
    mirror = state / "source" / "mirror.git"
    if damage == "objects gone":
        shutil.rmtree(mirror / "objects")
    elif damage == "HEAD garbage":
        (mirror / "HEAD").write_bytes(b"\x00garbage")
    elif damage == "config truncated":
        (mirror / "config").write_text("[core\n")
    else:
        shutil.rmtree(mirror)
        mirror.write_text("not a repository")
    leftovers = [state / "source" / ".mirror.999999.tmp", state / "source" / "trees" / f".{first}.999999.tmp"]
    for leftover in leftovers:  # as a process killed while building them leaves them
        leftover.mkdir(parents=True)
    newer = _push(clone, "after the damage")
    assert _pass(url, state, capsys) == (0, "")
    assert _source(state) == {"revision": newer, "status": "True", "reason": "Succeeded"}
    assert read_status(state, "daily")["appliedRevision"] == newer
    assert not any(leftover.exists() for leftover in leftovers)


def test_the_last_good_revision_outlives_a_rewritten_history_and_garbage_collection(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, clone, first = remote
    state = tmp_path / "state"
    _pass(url, state, capsys)
    git(clone, "checkout", "-q", "--orphan", "rewritten")
    write(clone, "orchestrations/daily.yaml", "kind: Orchestration\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "a new history, broken")
    git(clone, "push", "-q", "--force", "origin", "rewritten:main")
    git(Path(url), "gc", "-q", "--prune=now")
    assert _pass(url, state, capsys) == (0, "")
    git(state / "source" / "mirror.git", "gc", "-q", "--prune=now")  # as git's own gc --auto may
    assert _pass(url, state, capsys) == (0, "")  # a new process restores the last good one from the mirror
    assert _ready(read_status(state, "daily")) == ("False", "ValidationFailed", first)
    assert git(state / "source" / "mirror.git", "cat-file", "-t", first).strip() == "commit"


SECRET = "s3cr3t-t0ken"


def test_credentials_reach_the_server_and_appear_nowhere_else(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, first = remote
    state = tmp_path / "state"
    with git_http_server(tmp_path, username="bot", password=SECRET) as (base, seen):
        assert _pass(f"http://bot:{SECRET}@{base.removeprefix('http://')}/remote.git", state, capsys) == (0, "")
        assert any(header.startswith("Basic ") for header in seen)
        code, err = _pass(f"http://bot:wrong-{SECRET}@{base.removeprefix('http://')}/remote.git", state, capsys)
    assert code == 1
    assert err.startswith("orchrecon: error: source not ready (FetchFailed): git fetch of http://127.0.0.1:")
    assert SECRET not in err
    assert read_status(state, "daily")["appliedRevision"] == first
    for path in state.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_credentials_from_the_environment(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, first = remote
    monkeypatch.setenv("ORCHRECON_GIT_USERNAME", "bot")
    monkeypatch.setenv("ORCHRECON_GIT_PASSWORD", SECRET)
    with git_http_server(tmp_path, username="bot", password=SECRET) as (base, _):
        assert _pass(f"{base}/remote.git", tmp_path / "state", capsys) == (0, "")
    assert read_status(tmp_path / "state", "daily")["appliedRevision"] == first


def test_usage_errors_of_a_remote_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    assert main(["reconcile", "--branch", "main", *state, "--once"]) == 2
    assert main(["reconcile", "--git", str(tmp_path), "--watch", *state, "--once"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "orchrecon: error: --branch needs --git URL",
        "orchrecon: error: --watch follows a local checkout; a remote one (--git) is fetched every --interval",
    ]


def test_a_revision_fetched_before_a_crash_is_applied_while_the_remote_is_down(
    remote: tuple[str, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, first = remote
    state = tmp_path / "state"
    assert RemoteSource(url, "main", state / "source", {}).fetch().ready  # then the process died
    Path(url).rename(tmp_path / "away.git")
    code, err = _pass(url, state, capsys)
    assert (code, err.split(":")[:3]) == (1, ["orchrecon", " error", " source not ready (FetchFailed)"])
    assert _ready(read_status(state, "daily")) == ("True", "ReconciliationSucceeded", first)
