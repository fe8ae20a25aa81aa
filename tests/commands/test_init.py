"""`orchrecon init` writes a repository that validates and runs as written, in a fresh folder, with the
schema beside it for editors and check-jsonschema; `orchrecon schema` prints the installed schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from orchrecon import __version__
from orchrecon.documents.schema import schema_path
from tests.builders import git
from tests.conftest import ROOT
from tests.execution.builders import Done

DOCUMENTS = ("orchrecon.yaml", "configurations/example/hello.yaml", "orchestrations/hello.yaml")
KINDS = list(zip(("Project", "Configuration", "Orchestration"), DOCUMENTS, strict=True))


def orchrecon(*args: str, cwd: Path) -> Done:
    done = subprocess.run(
        [sys.executable, "-m", "orchrecon", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    return Done(done.returncode, done.stdout, done.stderr)


def check_jsonschema(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


@pytest.fixture
def team(tmp_path: Path) -> Path:
    done = orchrecon("init", "team", cwd=tmp_path)
    assert done.code == 0, done.err
    assert done.out.splitlines()[-2:] == [
        "initialized a git repository (git init)",
        "next: orchrecon -C team validate && orchrecon -C team run hello",
    ]
    return tmp_path / "team"


def test_init_then_validate_then_run_the_example_in_a_fresh_folder(team: Path, tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    validated = orchrecon(*state, "validate", cwd=team)
    assert (validated.code, validated.out) == (0, "3 files checked: 0 errors, 0 warnings\n")
    ran = orchrecon(*state, "run", "hello", cwd=team)
    assert ran.code == 0, ran.out + ran.err
    assert (team / "data" / "out" / "hello.txt").read_text().startswith("Hello, world! (run ")
    assert (team / ".git").is_dir()
    assert git(team, "status", "--porcelain", "--ignored", "data").startswith("!! data/")  # ignored, as it should be


def test_check_jsonschema_accepts_the_new_repository_as_the_readme_says(team: Path) -> None:
    done = check_jsonschema("--schemafile", "schema/orchestration.schema.json", *DOCUMENTS, cwd=team)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_schema_line_points_at_the_copied_installed_schema(team: Path) -> None:
    for rel in DOCUMENTS:
        first = (team / rel).read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), rel
        target = ((team / rel).parent / first.split("=", 1)[1]).resolve()
        assert target == (team / "schema" / "orchestration.schema.json").resolve(), rel
        assert target.read_bytes() == schema_path().read_bytes()


def test_the_pre_commit_hook_is_the_projects_hook_and_passes(team: Path) -> None:
    (project_hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (repo,) = yaml.safe_load((team / ".pre-commit-config.yaml").read_text())["repos"]
    (hook,) = repo["hooks"]
    same = ("id", "name", "entry", "files", "pass_filenames", "require_serial")
    assert {k: hook[k] for k in same} == {k: project_hook[k] for k in same}
    staged = [rel for rel in (*DOCUMENTS, "jobs/hello.py", ".gitignore") if re.search(hook["files"], rel)]
    assert staged == list(DOCUMENTS)
    entry = hook["entry"].split()
    assert entry[0] == "orchrecon"
    done = orchrecon(*entry[1:], *staged, cwd=team)
    assert done.code == 0, done.out + done.err


def test_the_workflow_validates_with_github_annotations(team: Path) -> None:
    workflow = yaml.safe_load((team / ".github" / "workflows" / "validate.yml").read_text())
    steps = [step.get("run") for step in workflow["jobs"]["validate"]["steps"]]
    assert steps[-2:] == [f'pip install "orchrecon=={__version__}"', "orchrecon validate --format github"]


def test_init_refuses_a_folder_holding_its_files_unless_forced(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    (tmp_path / "orchestrations").mkdir()
    (tmp_path / "orchestrations" / "hello.yaml").write_text("ours\n")
    (tmp_path / "README.md").write_text("ours\n")
    done = orchrecon("init", cwd=tmp_path)
    assert (done.code, done.out) == (1, "")
    assert done.err == snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "orchestrations"]  # nothing written
    assert orchrecon("init", "--force", cwd=tmp_path).code == 0
    assert (tmp_path / "orchestrations" / "hello.yaml").read_text() != "ours\n"
    assert (tmp_path / "README.md").read_text() == "ours\n"


def test_init_inside_a_git_repository_adds_no_repository_of_its_own(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "notes.txt").write_text("a folder with other files is fine\n")
    done = orchrecon("init", "pipelines", cwd=tmp_path)
    assert done.code == 0, done.err
    assert "git init" not in done.out
    assert not (tmp_path / "pipelines" / ".git").exists()


def test_schema_prints_the_installed_schema(tmp_path: Path) -> None:
    done = orchrecon("schema", cwd=tmp_path)
    assert done.code == 0
    assert done.out.encode() == schema_path().read_bytes()


@pytest.mark.parametrize(
    ("kind", "document"), list(zip(("Project", "Configuration", "Orchestration"), DOCUMENTS, strict=True))
)
def test_schema_of_one_kind_is_a_standalone_schema_check_jsonschema_accepts(
    team: Path, kind: str, document: str
) -> None:
    done = orchrecon("schema", "--kind", kind, cwd=team)
    assert done.code == 0
    schema = json.loads(done.out)
    jsonschema.Draft202012Validator.check_schema(schema)
    (team / "kind.json").write_text(done.out)
    assert check_jsonschema("--schemafile", "kind.json", document, cwd=team).returncode == 0
    validator = jsonschema.Draft202012Validator(schema)
    for other in (d for d in DOCUMENTS if d != document):  # it is the schema of that kind only
        assert not validator.is_valid(yaml.safe_load((team / other).read_text())), other
