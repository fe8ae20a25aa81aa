from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.cli import main
from tests.builders import clone_with_remote, git, small_repo, write
from tests.conftest import EXAMPLE_REPO

BROKEN_ORCHESTRATION = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: broken}
spec:
  phases:
    - name: main
      tasks:
        - {name: first, config: ex/missing, continueOnFailur: true}
"""


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_example_repository_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "-C", str(EXAMPLE_REPO), "validate")
    assert code == 0
    assert out.endswith("files checked: 0 errors, 0 warnings\n")


def test_every_problem_in_every_file_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    small_repo(tmp_path)
    write(tmp_path, "orchestrations/broken.yaml", BROKEN_ORCHESTRATION)
    write(tmp_path, "orchestrations/bad-yaml.yaml", "a: [1\n")
    code, out, err = _run(capsys, "-C", str(tmp_path), "validate")
    assert code == 1
    assert err == ""
    assert out == snapshot


def test_json_format(tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion) -> None:
    small_repo(tmp_path)
    write(tmp_path, "orchestrations/broken.yaml", BROKEN_ORCHESTRATION)
    code, out, _ = _run(capsys, "-C", str(tmp_path), "validate", "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert report["valid"] is False
    assert report == snapshot


def test_paths_select_reported_files_but_other_errors_still_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small_repo(tmp_path)
    write(tmp_path, "orchestrations/broken.yaml", BROKEN_ORCHESTRATION)
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, "validate", "orchestrations/daily.yaml")
    assert code == 1
    assert out == "1 file checked: 0 errors, 0 warnings\n"
    assert err == "orchrecon: 1 error in 1 other file (run orchrecon validate without PATH to see them)\n"


def test_repository_found_from_a_subfolder_or_from_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small_repo(tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo" / "orchestrations")
    assert _run(capsys, "validate")[0] == 0
    monkeypatch.chdir(tmp_path)
    assert _run(capsys, "validate", "repo/orchestrations/daily.yaml")[0] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "nope.yaml"], "orchrecon: error: no such file or folder: nope.yaml\n"),
        (["-C", "missing", "validate"], "orchrecon: error: no such folder: missing\n"),
    ],
)
def test_missing_things_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    small_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, *argv)
    assert (code, err) == (2, message)


def test_not_a_repository_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "-C", str(tmp_path), "validate")
    assert code == 2
    assert "is not in an orchrecon repository" in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", "--format", "xml"])
    assert info.value.code == 2


def test_github_annotations_put_changed_files_first_and_write_a_summary(
    tmp_path: Path, snapshot: SnapshotAssertion
) -> None:
    clone = clone_with_remote(tmp_path)
    write(clone, "orchestrations/old.yaml", BROKEN_ORCHESTRATION.replace("broken", "old"))
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "broken on main")
    git(clone, "push", "-q", "origin", "main")
    git(clone, "checkout", "-qb", "feature")
    write(
        clone, "orchestrations/zz-new.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\nmetadata: {name: zz-new}\n"
    )
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "feature")
    summary = tmp_path / "summary.md"
    done = subprocess.run(
        [sys.executable, "-m", "orchrecon", "validate", "--format", "github"],
        cwd=clone,
        env={"GITHUB_BASE_REF": "main", "GITHUB_STEP_SUMMARY": str(summary), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith("::error file=orchestrations/zz-new.yaml,")
    assert done.stdout == snapshot(name="annotations")
    assert summary.read_text() == snapshot(name="summary")


def test_hostile_input_never_shows_a_traceback(tmp_path: Path) -> None:
    small_repo(tmp_path)
    write(tmp_path, "orchestrations/evil.yaml", "a: &a [" + "*a, " * 3 + "]\n")
    (tmp_path / "orchestrations" / "bin.yaml").write_bytes(b"\x00\xff\xfe" * 1000)
    done = subprocess.run(
        [sys.executable, "-m", "orchrecon", "-C", str(tmp_path), "validate"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "orchestrations/bin.yaml:1:2: error: invalid UTF-8 (byte 0xff)" in done.stdout
