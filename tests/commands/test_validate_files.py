"""`validate` on documents a careless user gets wrong: odd file names, huge files, triggers that loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.cli import main
from tests.builders import CONFIG, ORCHESTRATION, small_repo, write

TRIGGERED = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: {name}}}
spec:
  phases:
    - name: main
      tasks:
        - {{name: first, config: {config}, enabled: {enabled}}}
  trigger:
    tables: [{tables}]
    cooldown: 1h
"""


def _validate(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    code = main(["-C", str(repo), "validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _config(repo: Path, component: str, name: str, table: str) -> None:
    write(repo, f"configurations/{component}/{name}.yaml", CONFIG.format(component=component, name=name, table=table))


def _triggered(repo: Path, name: str, config: str, tables: str, *, enabled: bool = True) -> None:
    text = TRIGGERED.format(name=name, config=config, tables=tables, enabled=str(enabled).lower())
    write(repo, f"orchestrations/{name}.yaml", text)


@pytest.mark.parametrize(
    "name",
    [
        "orchestrations/we\nird.yaml",
        "orchestrations/daily.yaml\n",
        "orchestrations/\x1b[31mred.yaml",
        "configurations/e\tx/a.yaml",
        "orchestrations/caf\udce9.yaml",  # the byte 0xe9 alone: not UTF-8
    ],
    ids=["newline-inside", "newline-after-the-extension", "escape-sequence", "tab-in-a-folder", "not-utf-8"],
)
def test_a_file_name_with_control_characters_is_refused_and_printed_escaped(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    repo = small_repo(tmp_path)
    write(repo, name, ORCHESTRATION.format(name="daily", config="ex/a"))
    code, out, err = _validate(capsys, repo)
    assert code == 1
    assert err == ""
    assert len(out.splitlines()) == 2  # the error, then the count: no raw newline inside a line
    assert all(line.isprintable() for line in out.splitlines())
    assert out == snapshot


def test_escaped_names_in_github_annotations_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = small_repo(tmp_path / "repo")
    write(repo, "orchestrations/\x1b[31mred.yaml", ORCHESTRATION.format(name="red", config="ex/a"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    _, github, _ = _validate(capsys, repo, "--format", "github")
    assert "\x1b" not in github
    assert "file=orchestrations/\\x1b[31mred.yaml,line=1,col=1" in github
    assert "| `orchestrations/\\x1b[31mred.yaml` | 1:1 |" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    _, report, _ = _validate(capsys, repo, "--format", "json")
    assert json.loads(report)["errors"][0]["file"] == "orchestrations/\\x1b[31mred.yaml"  # as printed


def test_a_file_over_1_mib_is_reported_with_its_real_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    repo = small_repo(tmp_path)
    write(repo, "orchestrations/huge.yaml", "# " + "x" * (2 * 1024 * 1024 - 3) + "\n")
    code, out, _ = _validate(capsys, repo)
    assert code == 1
    assert "file is 2097152 bytes" in out
    assert out == snapshot


def test_a_trigger_on_a_table_its_own_orchestration_outputs_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    repo = small_repo(tmp_path, orchestrations=())
    _triggered(repo, "loop", "ex/a", "in.c-ext.other, in.c-ex.a")
    code, out, _ = _validate(capsys, repo)
    assert code == 0
    assert out == snapshot


def test_a_cycle_of_triggers_between_orchestrations_is_a_warning_in_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    repo = tmp_path
    _config(repo, "ex-x", "t1", "in.c-x.t1")
    _config(repo, "ex-y", "t2", "in.c-y.t2")
    _config(repo, "ex-z", "t3", "in.c-z.t3")
    _triggered(repo, "daily-sales", "ex-x/t1", "in.c-z.t3")
    _triggered(repo, "marketing-report", "ex-y/t2", "in.c-x.t1")
    _triggered(repo, "weekly", "ex-z/t3", "in.c-y.t2")
    code, out, _ = _validate(capsys, repo)
    assert code == 0
    assert "trigger cycle: daily-sales -> marketing-report -> weekly -> daily-sales" in out
    assert out == snapshot


def test_no_cycle_through_a_disabled_task_or_a_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path
    _config(repo, "ex-x", "t1", "in.c-x.t1")
    _config(repo, "ex-y", "t2", "in.c-y.t2")
    _triggered(repo, "first", "ex-x/t1", "in.c-y.t2", enabled=False)  # never runs, so never outputs in.c-x.t1
    _triggered(repo, "second", "ex-y/t2", "in.c-x.t1")
    _triggered(repo, "third", "ex-y/t2", "in.c-y.t2", enabled=False)
    code, out, _ = _validate(capsys, repo)
    assert code == 0
    assert "trigger cycle" not in out


def test_a_step_summary_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, snapshot: SnapshotAssertion
) -> None:
    repo = small_repo(tmp_path / "repo")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no-such-folder" / "summary.md"))
    code, out, err = _validate(capsys, repo, "--format", "github")
    assert code == 1
    assert out == ""
    assert err.replace(str(tmp_path), "<TMP>") == snapshot


def test_a_control_character_in_a_file_that_is_not_yaml_is_still_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = small_repo(tmp_path)
    write(repo, "orchestrations/Icon\r", "")  # what macOS Finder leaves in a folder with a custom icon
    assert _validate(capsys, repo) == (0, "2 files checked: 0 errors, 0 warnings\n", "")
