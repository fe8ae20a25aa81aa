"""`orchrecon db migrate|check` against a real PostgreSQL server; the password is never shown."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from orchrecon.cli import main
from orchrecon.store.postgresql.schema import VERSION
from tests.builders import small_repo


def db(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["db", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_migrate_brings_a_new_database_to_this_version_once_and_check_then_agrees(
    postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCHRECON_STATE_URL", postgres_url)
    code, _, err = db(capsys, "check")
    assert code == 1
    older = f"has schema version 0, older than this orchrecon's {VERSION}: run 'orchrecon db migrate'\n"
    assert err.endswith(older), err
    code, out, err = db(capsys, "migrate")
    assert (code, err) == (0, "")
    assert out.startswith("migrated postgresql://orchrecon@127.0.0.1:")
    assert out.endswith(f" from schema version 0 to {VERSION}\n")
    code, out, _ = db(capsys, "migrate")
    assert code == 0
    assert out.endswith(f" is at schema version {VERSION}: nothing to migrate\n")
    code, out, _ = db(capsys, "check")
    assert code == 0
    assert out.endswith(f" is at schema version {VERSION}, this orchrecon's\n")


def test_a_password_on_the_command_line_is_warned_about_and_never_shown(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with_password = postgres_url.replace("postgresql://orchrecon@", "postgresql://orchrecon:hunter2-s3cret@", 1)
    assert with_password != postgres_url
    code, out, err = db(capsys, "migrate", "--state", with_password)
    assert code == 0
    assert "visible in this host's process list; set ORCHRECON_STATE_URL or PGPASSWORD instead" in err
    assert "hunter2" not in out + err


def test_an_unreachable_database_is_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = db(capsys, "migrate", "--state", f"postgresql://bob:hunter2-s3cret@127.0.0.1:{port}/state")
    assert code == 1
    lines = [line for line in err.splitlines() if not line.startswith("orchrecon: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"orchrecon: error: cannot connect to postgresql://bob@127.0.0.1:{port}/state: ")
    assert "hunter2" not in out + err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "name the state database: --state postgresql://USER@HOST/DB or ORCHRECON_STATE_URL"),
        (["--state", "/var/lib/orchrecon"], "--state must be a postgresql:// URL (the state directory is --state-dir)"),
    ],
)
def test_without_a_database_url_it_says_how_to_name_one(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCHRECON_STATE_URL", raising=False)
    code, _, err = db(capsys, "migrate", *argv)
    assert code == 2
    assert err == f"orchrecon: error: {message}\n"


def test_the_global_state_option_names_the_database_before_or_after_the_command(
    postgres_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert db(capsys, "migrate", "--state", postgres_url)[0] == 0
    repo = small_repo(tmp_path / "repo")
    state = str(tmp_path / "machine")  # new: on the database, any command may start this machine's state directory
    with_password = postgres_url.replace("orchrecon@", "orchrecon:hunter2@")  # the test server trusts any password
    for argv in (
        ["--state", postgres_url, "-C", str(repo), "--state-dir", state, "runs", "--format", "json"],
        ["-C", str(repo), "runs", "--state-dir", state, "--state", with_password, "--format", "json"],
    ):
        assert main(argv) == 0
        out, err = capsys.readouterr()
        assert json.loads(out)["runs"] == []
    assert err.startswith("orchrecon: warning: the password in --state is visible in this host's process list")
    assert "hunter2" not in err
    assert (tmp_path / "machine" / "index.database.sqlite").exists()
    assert not list((tmp_path / "machine" / "ledger").glob("*.jsonl"))
    assert "ORCHRECON_STATE_URL" not in os.environ  # main() puts the environment back as it found it
