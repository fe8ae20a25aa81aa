"""What a command imports at start-up (issue 16): only its own module and what it uses, so that `--help`, `runs`,
`tables touch` and `health` pay for no runner, parser or schema; and the argument forms that must still find their
command's parser."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchrecon import cli
from orchrecon.store import STATE_URL_VAR
from tests.builders import small_repo

PROBE = """
import json, sys
from orchrecon.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

HEAVY = ("asyncio", "yaml", "jsonschema_rs", "git", "httpx", "orchrecon.execution.runner", "orchrecon.documents.model")


def imported(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )
    last = json.loads(done.stderr.splitlines()[-1])
    return last["code"], set(last["modules"])


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["bogus"]], ids=["help", "version", "unknown"])
def test_help_and_version_import_no_command_module(tmp_path: Path, argv: list[str]) -> None:
    code, modules = imported(argv, tmp_path)
    assert code in (0, 2)
    assert not {m for m in modules if m.startswith("orchrecon.commands.")}
    assert not {"typing", "pathlib", "shutil", "orchrecon.errors"} & modules


@pytest.mark.parametrize(
    "argv",
    [["runs", "--limit", "20"], ["tables", "touch", "T"], ["health", "--max-age", "1d"]],
    ids=["runs", "tables-touch", "health"],
)
def test_a_reading_command_imports_neither_runner_nor_documents(tmp_path: Path, argv: list[str]) -> None:
    repo = small_repo(tmp_path)
    env = {**os.environ, "ORCHRECON_STATE_DIR": str(tmp_path / "state")}
    env.pop(STATE_URL_VAR, None)
    _, modules = imported(argv, repo, env)
    assert sorted(m for m in HEAVY if m in modules) == []
    assert {m for m in modules if m.startswith("orchrecon.commands.")} <= {f"orchrecon.commands.{argv[0]}"}


def test_help_lists_every_command_with_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    shown = capsys.readouterr().out
    for name, (module, summary) in cli.COMMANDS.items():
        assert f"\n    {name} " in shown
        assert " ".join(summary.split()[:3]) in shown
        assert hasattr(importlib.import_module(f"orchrecon.commands.{module}"), "add_parser")


@pytest.mark.parametrize(
    "argv",
    [["-C{repo}", "runs", "--limit", "2"], ["--repo={repo}", "runs", "--limit", "2"], ["runs", "-C", "{repo}"]],
    ids=["attached-short", "attached-long", "after"],
)
def test_a_command_after_an_attached_option_value_gets_its_parser(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = small_repo(tmp_path)
    monkeypatch.delenv("ORCHRECON_STATE_DIR", raising=False)
    monkeypatch.chdir(tmp_path.parent)
    assert cli.main([word.format(repo=repo) for word in argv]) == 0
    assert capsys.readouterr().out.startswith("RUN  ORCHESTRATION")


def test_help_names_the_state_url_variable_the_backends_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert f"${STATE_URL_VAR})" in capsys.readouterr().out
