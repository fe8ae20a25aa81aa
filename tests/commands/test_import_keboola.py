"""`orchrecon import keboola`: the kbc-style fixture project (tests/keboola/project) as orchrecon documents."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.bridges.keboola import slug
from orchrecon.cli import main
from orchrecon.documents.repository import validate_tree

PROJECT = Path(__file__).parents[1] / "keboola" / "project"
DAILY = "main/other/keboola.orchestrator/daily-sales"


def _import(project: Path, into: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["import", "keboola", str(project), "--into", str(into)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _written(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.yaml"))}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the fixture project, to damage."""
    copy = tmp_path / "project"
    shutil.copytree(PROJECT, copy)
    return copy


def test_the_fixture_project_becomes_these_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    code, out, err = _import(PROJECT, tmp_path / "repo", capsys)
    assert (code, err) == (0, "")
    assert (
        out.splitlines()[0] == f"imported 7 documents from {PROJECT} into {tmp_path / 'repo'}: 7 written, 0 unchanged"
    )
    assert _written(tmp_path / "repo") == snapshot


def test_the_documents_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _import(PROJECT, tmp_path, capsys)
    result = validate_tree(tmp_path)
    assert [d.render() for d in result.diagnostics] == []
    assert sorted(result.orchestrations) == ["daily-sales", "weekly-traffic"]
    daily = result.orchestrations["daily-sales"]
    assert [p.name for p in daily.phases] == ["extract", "transform", "write"]  # dependsOn, not folder order
    assert result.orchestrations["weekly-traffic"].suspend  # its only schedule is disabled in Keboola


def test_a_task_with_inline_config_data_gets_a_configuration_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The sales mart runs with its task's configData in the daily orchestration only: the weekly one runs the
    # configuration as stored, so the two tasks cannot share a Configuration that sends parameters.
    _import(PROJECT, tmp_path, capsys)
    result = validate_tree(tmp_path)
    daily = {t.name: t for p in result.orchestrations["daily-sales"].phases for t in p.tasks}
    weekly = {t.name: t for p in result.orchestrations["weekly-traffic"].phases for t in p.tasks}
    inline, stored = (
        result.configurations[daily["sales-mart"].config],
        result.configurations[weekly["sales-mart"].config],
    )
    assert (inline.ref, stored.ref) == (
        "keboola-snowflake-transformation/sales-mart-task-sales-mart",
        "keboola-snowflake-transformation/sales-mart",
    )
    assert inline.run.keboola is not None
    assert stored.run.keboola is not None
    assert (inline.run.keboola.send_parameters, stored.run.keboola.send_parameters) == (True, False)
    assert daily["sales-mart"].parameters == {"full": True}
    assert "configData keys storage are left out" in (tmp_path / f"configurations/{inline.ref}.yaml").read_text()


def test_a_second_import_changes_no_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _import(PROJECT, tmp_path, capsys)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*.yaml")}
    code, out, _ = _import(PROJECT, tmp_path, capsys)
    assert code == 0
    assert "0 written, 7 unchanged" in out
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.rglob("*.yaml")} == before


def _edit(file: Path, **changes: object) -> None:
    data = json.loads(file.read_text())
    data.update(changes)
    file.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda p: _edit(p / DAILY / "phases/001-extract/phase.json", dependsOn=["002-write"]),
            f"{DAILY}/phases/001-extract/phase.json: dependsOn makes a cycle: 001-extract -> 002-write -> 003-transform"
            " -> 001-extract",
        ),
        (
            lambda p: _edit(p / DAILY / "phases/002-write/phase.json", dependsOn=["009-publish"]),
            f"{DAILY}/phases/002-write/phase.json: dependsOn names '009-publish', which is not a phase of this"
            " orchestration",
        ),
        (
            lambda p: _edit(
                p / DAILY / "phases/001-extract/001-shop-orders/task.json",
                task={"mode": "run", "configPath": "extractor/keboola.ex-db-mysql/gone"},
            ),
            f"{DAILY}/phases/001-extract/001-shop-orders/task.json: task.configPath"
            " 'extractor/keboola.ex-db-mysql/gone' is no configuration of the project",
        ),
        (
            lambda p: _edit(
                p / DAILY / "phases/001-extract/002-web-traffic/task.json",
                task={"mode": "run", "componentId": "keboola.ex-db-mysql", "configId": "404"},
            ),
            f"{DAILY}/phases/001-extract/002-web-traffic/task.json: the task points nowhere: no configuration '404' of"
            " 'keboola.ex-db-mysql'",
        ),
        (
            lambda p: (p / DAILY / "phases/003-transform/phase.json").write_text('{"name": "Transform",'),
            f"{DAILY}/phases/003-transform/phase.json: not JSON: Expecting property name enclosed in double quotes:"
            " line 1 column 22 (char 21)",
        ),
        (
            lambda p: (p / ".keboola/manifest.json").write_text('{"version": 2}'),
            ".keboola/manifest.json: not a kbc manifest: it has no configurations list",
        ),
        (
            lambda p: (p / DAILY / "schedules/every-morning/config.json").write_text('{"schedule": {}}'),
            f"{DAILY}/schedules/every-morning/config.json: a schedule needs schedule.cronTab and a target",
        ),
    ],
    ids=[
        "cycle",
        "missing-phase",
        "task-points-nowhere",
        "task-id-points-nowhere",
        "not-json",
        "not-a-manifest",
        "bad-schedule",
    ],
)
def test_each_malformed_input_is_one_line_naming_its_file(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: object, message: str
) -> None:
    damage(project)  # type: ignore[operator]
    code, out, err = _import(project, tmp_path / "repo", capsys)
    assert (code, out) == (1, "")
    assert err == f"orchrecon: error: {message}\n"
    assert not (tmp_path / "repo").exists()  # nothing written from a project that did not convert


def test_a_folder_without_a_manifest_is_a_usage_error_without_a_traceback(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "orchrecon", "import", "keboola", str(tmp_path), "--into", str(tmp_path / "r")]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == (
        f"orchrecon: error: {tmp_path} is not a kbc project: no .keboola/manifest.json in it (pull the project with"
        " `kbc pull`)\n"
    )


def test_keboola_names_become_orchrecon_names() -> None:
    assert slug("Daily Sales") == "daily-sales"
    assert slug("  Ünïcode & (brackets)!! ") == "n-code-brackets"
    assert slug("x" * 80) == "x" * 63
    assert slug("---") == ""
