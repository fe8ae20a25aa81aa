"""`orchrecon tokens create|list|revoke` on real repositories and state directories.

The secret is printed once, alone on stdout; only a salted hash is kept (0600 in a 0700 `secrets/`); `list`
never shows either; a revoked or altered token does not authenticate; bad requests are one line, exit 2.
"""

from __future__ import annotations

import io
import json
import re
import stat
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.access import orchestration_principal
from orchrecon.cli import main
from orchrecon.clock import SystemClock
from orchrecon.store.apitokens import ApiTokenStore
from orchrecon.store.tokens import TokenStore
from tests.builders import small_repo
from tests.execution.builders import TIME, Done

SECRET = re.compile(r"orc_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Box:
    repo: Path
    state: Path

    def cli(self, *args: str) -> Done:
        """`orchrecon -C REPO --state-dir STATE ARGS…` through the entry point, in this process."""
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["-C", str(self.repo), "--state-dir", str(self.state), *args])
        return Done(code, out.getvalue(), err.getvalue())

    def shell(self, script: str) -> Done:
        """`script` in bash, with `orchrecon` the installed command on this repository and state directory."""
        command = f'orchrecon() {{ {sys.executable} -m orchrecon -C {self.repo} --state-dir {self.state} "$@"; }}\n'
        done = subprocess.run(["bash", "-c", command + script], capture_output=True, text=True, check=False, timeout=60)
        return Done(done.returncode, done.stdout, done.stderr)

    def create(self, name: str, *args: str) -> str:
        done = self.cli("tokens", "create", name, *args)
        assert done.code == 0, done.err
        return done.out.removesuffix("\n")

    def store(self) -> ApiTokenStore:
        return ApiTokenStore(self.state / "secrets", SystemClock())

    def listed(self) -> list[dict[str, Any]]:
        done = self.cli("tokens", "list", "--format", "json")
        assert done.code == 0, done.err
        tokens: list[dict[str, Any]] = json.loads(done.out)["tokens"]
        return tokens

    def one_line_error(self, *args: str) -> tuple[int, str]:
        done = self.cli(*args)
        assert done.out == ""
        assert done.err.count("\n") == 1, done.err
        return done.code, done.err.replace(str(self.state), "<STATE>")


@pytest.fixture
def box(tmp_path: Path) -> Box:
    return Box(small_repo(tmp_path / "repo", orchestrations=("daily", "weekly")), tmp_path / "state")


def test_the_secret_is_alone_on_stdout_so_a_shell_can_capture_it(box: Box) -> None:
    done = box.shell(
        "TOKEN=$(orchrecon tokens create ci --scope runs:trigger --orchestration daily --email ci@example.com)\n"
        'printf "[%s]" "$TOKEN"'
    )
    assert done.code == 0, done.err
    assert SECRET.fullmatch(done.out[1:-1]), done.out
    assert done.err == "created token ci; its secret, printed above, is shown this once and stored nowhere\n"
    principal = box.store().authenticate(done.out[1:-1])
    assert principal is not None
    assert (principal.name, principal.email) == ("ci", "ci@example.com")
    assert (principal.scopes, principal.orchestrations) == (frozenset({"runs:trigger"}), frozenset({"daily"}))


def test_create_prints_exactly_the_secret_and_a_newline(box: Box) -> None:
    done = box.cli("tokens", "create", "ci", "--scope", "runs:read", "--scope", "tables:write")
    assert done.code == 0
    assert SECRET.fullmatch(done.out.removesuffix("\n"))
    assert done.out.endswith("\n")
    assert done.out.count("\n") == 1


def test_create_warns_of_an_orchestration_not_defined_yet(box: Box) -> None:
    done = box.cli("tokens", "create", "ci", "--scope", "runs:trigger", "--orchestration", "later")
    assert done.code == 0
    assert done.err.splitlines()[0] == "orchrecon: warning: no orchestration later is defined (yet)"
    assert box.store().authenticate(done.out.strip()) is not None


def test_list_shows_api_and_orchestration_tokens_without_secrets(box: Box, snapshot: SnapshotAssertion) -> None:
    trigger = box.create("ci", "--scope", "runs:trigger", "--orchestration", "daily", "--email", "ci@example.com")
    box.create("admin", "--scope", "admin")
    box.create("reader", "--scope", "runs:read")
    assert box.cli("tokens", "rotate", "daily").code == 0
    assert box.store().authenticate(trigger) is not None  # records a last use
    text = box.cli("tokens", "list")
    assert text.code == 0
    assert TIME.sub("<TIME>", text.out) == snapshot(name="text")
    assert [
        {**r, "created": r["created"] and "<TIME>", "lastUsed": r["lastUsed"] and "<TIME>"} for r in box.listed()
    ] == snapshot(name="json")


def test_list_never_shows_a_secret_or_its_hash(box: Box) -> None:
    secrets = [box.create(f"t{i}", "--scope", "admin") for i in range(3)]
    secrets.append(TokenStore(box.state / "secrets").get("daily"))
    stored = json.loads((box.state / "secrets" / "api-tokens.json").read_text())["tokens"]
    hidden = [*secrets, *(e["salt"] for e in stored), *(e["sha256"] for e in stored)]
    for fmt in ("text", "json"):
        out = box.cli("tokens", "list", "--format", fmt).out
        assert not [h for h in hidden if h in out or h[4:20] in out]


def test_no_secret_is_recoverable_from_any_file_of_the_state_directory(box: Box) -> None:
    secrets = [box.create(f"t{i}", "--scope", "runs:read", "--email", f"p{i}@example.com") for i in range(3)]
    for secret in secrets:
        assert box.store().authenticate(secret) is not None  # last-use writes rewrite the file too
    assert box.cli("tokens", "revoke", "t0").code == 0
    assert box.cli("tokens", "list").code == 0
    files = [p for p in box.state.rglob("*") if p.is_file()]
    assert box.state / "secrets" / "api-tokens.json" in files
    for secret in secrets:
        pieces = {secret[i : i + 16] for i in range(len(secret) - 15)}
        for file in files:
            content = file.read_bytes()
            assert not [p for p in pieces if p.encode() in content], f"{file} holds part of a secret"


def test_secrets_files_are_the_owners_alone(box: Box) -> None:
    box.create("ci", "--scope", "admin")
    assert box.cli("tokens", "rotate", "daily").code == 0
    secrets = box.state / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in secrets.iterdir()}
    assert {"api-tokens.json", "orchestration-tokens.json"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes


def test_a_revoked_token_no_longer_authenticates_and_others_stay(box: Box) -> None:
    gone, kept = box.create("gone", "--scope", "admin"), box.create("kept", "--scope", "admin")
    store = box.store()
    assert store.authenticate(gone) is not None
    done = box.cli("tokens", "revoke", "gone")
    assert (done.code, done.out) == (0, "revoked token gone; requests with it are refused from now on\n")
    assert store.authenticate(gone) is None
    assert store.authenticate(kept) is not None
    assert [t["name"] for t in box.listed()] == ["kept"]


def test_a_token_with_one_changed_character_does_not_authenticate(box: Box) -> None:
    secret = box.create("ci", "--scope", "admin")
    store = box.store()
    for i in range(len(secret)):
        changed = secret[:i] + ("x" if secret[i] != "x" else "y") + secret[i + 1 :]
        assert store.authenticate(changed) is None, i
    assert store.authenticate(secret) is not None


REFUSED = {
    "bad-name": ["tokens", "create", "CI", "--scope", "admin"],
    "no-scope": ["tokens", "create", "ci"],
    "unknown-scope": ["tokens", "create", "ci", "--scope", "runs:write"],
    "orchestration-without-runs-scope": [
        "tokens",
        "create",
        "ci",
        "--scope",
        "tables:write",
        "--orchestration",
        "daily",
    ],
    "orchestration-on-admin": ["tokens", "create", "ci", "--scope", "admin", "--orchestration", "daily"],
    "bad-orchestration-name": ["tokens", "create", "ci", "--scope", "runs:read", "--orchestration", "../daily"],
    "bad-email": ["tokens", "create", "ci", "--scope", "admin", "--email", "ci at example.com"],
    "revoke-unknown": ["tokens", "revoke", "nope"],
    "revoke-defined-orchestration": ["tokens", "revoke", "weekly"],
}


@pytest.mark.parametrize("argv", REFUSED.values(), ids=REFUSED.keys())
def test_a_bad_request_is_one_line_exit_2_and_stores_nothing(
    box: Box, argv: list[str], snapshot: SnapshotAssertion
) -> None:
    assert box.one_line_error(*argv) == snapshot
    assert not (box.state / "secrets" / "api-tokens.json").exists()


def test_a_name_is_refused_once_taken(box: Box, snapshot: SnapshotAssertion) -> None:
    first = box.create("ci", "--scope", "admin")
    assert box.one_line_error("tokens", "create", "ci", "--scope", "runs:read") == snapshot
    principal = box.store().authenticate(first)
    assert principal is not None
    assert principal.scopes == {"admin"}


def test_an_orchestrations_token_is_not_revoked_but_rotated(box: Box, snapshot: SnapshotAssertion) -> None:
    old = TokenStore(box.state / "secrets").get("daily")
    assert box.one_line_error("tokens", "revoke", "daily") == snapshot
    assert box.store().authenticate(old) == orchestration_principal("daily")
    assert box.cli("tokens", "rotate", "daily").code == 0
    assert box.store().authenticate(old) is None


def test_a_damaged_token_file_is_one_line_exit_1_and_left_as_it_is(box: Box, snapshot: SnapshotAssertion) -> None:
    box.create("ci", "--scope", "admin")
    file = box.state / "secrets" / "api-tokens.json"
    damaged = file.read_bytes()[:-20]
    file.write_bytes(damaged)
    for argv in (["tokens", "list"], ["tokens", "create", "other", "--scope", "admin"], ["tokens", "revoke", "ci"]):
        assert box.one_line_error(*argv) == snapshot
    assert file.read_bytes() == damaged


def test_tokens_work_from_the_state_directory_alone(box: Box, tmp_path: Path) -> None:
    assert box.cli("tokens", "rotate", "daily").code == 0
    empty = tmp_path / "empty"
    empty.mkdir()

    def orchrecon(*args: str) -> Done:
        argv = [sys.executable, "-m", "orchrecon", "--state-dir", str(box.state), "tokens", *args]
        done = subprocess.run(argv, cwd=empty, capture_output=True, text=True, check=False, timeout=60)
        return Done(done.returncode, done.stdout, done.stderr)

    created = orchrecon("create", "ci", "--scope", "runs:read")
    assert created.code == 0, created.err
    assert box.store().authenticate(created.out.strip()) is not None
    assert [r["name"] for r in json.loads(orchrecon("list", "--format", "json").out)["tokens"]] == ["ci", "daily"]
    assert orchrecon("revoke", "daily").code == 2
    assert orchrecon("revoke", "ci").code == 0
    assert box.store().authenticate(created.out.strip()) is None
