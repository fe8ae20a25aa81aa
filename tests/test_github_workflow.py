"""examples/github-workflow.yml, the workflow users copy: valid YAML with its steps in place, the marker `diff`
prints, and its diff step run for real (bash, git, orchrecon) in a pull request's clone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from orchrecon.reports.diff.markdown import MARKER
from tests.builders import clone_with_remote, write
from tests.conftest import ROOT

WORKFLOW = ROOT / "examples" / "github-workflow.yml"
# How GitHub runs a `run:` step on Linux.
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]


def _steps() -> dict[str, dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


def test_the_workflow_runs_on_pull_requests_and_may_comment() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}


def test_the_steps_are_in_place_in_order() -> None:
    steps = _steps()
    assert list(steps) == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Install orchrecon",
        "Validate",
        "Diff against the base branch",
        "Comment on the pull request",
    ]
    assert steps["actions/checkout@v4"]["with"]["fetch-depth"] == 0
    assert steps["Validate"]["run"] == "orchrecon validate --format github"
    diff = steps["Diff against the base branch"]["run"]
    assert 'orchrecon diff --base "origin/$GITHUB_BASE_REF"' in diff
    assert '>> "$GITHUB_STEP_SUMMARY"' in diff


def test_the_comment_step_finds_its_comment_by_the_marker_diff_prints() -> None:
    comment = _steps()["Comment on the pull request"]
    assert comment["env"]["MARKER"] == MARKER
    assert "contains(env.MARKER)" in comment["run"]
    assert "--method PATCH" in comment["run"]
    assert "--method POST" in comment["run"]
    subprocess.run(["bash", "-n", "-c", comment["run"]], check=True)


def _run_diff_step(clone: Path, tmp: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    summary = tmp / "summary.md"
    summary.write_text("# earlier steps\n", encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_BASE_REF": "main",
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(tmp),
    }
    script = _steps()["Diff against the base branch"]["run"]
    done = subprocess.run([*BASH, script], cwd=clone, env=env, capture_output=True, text=True, check=False, timeout=60)
    return done, summary


def test_the_diff_step_appends_the_comment_to_the_summary_and_passes_when_something_changes(tmp_path: Path) -> None:
    clone = clone_with_remote(tmp_path)
    write(
        clone,
        "orchestrations/weekly.yaml",
        (clone / "orchestrations/daily.yaml").read_text().replace("daily", "weekly"),
    )
    done, summary = _run_diff_step(clone, tmp_path)
    assert done.returncode == 0, done.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier steps\n**1 orchestration added**\n")
    assert text.endswith(f"{MARKER}\n")
    assert (tmp_path / "orchrecon-diff.md").read_text(encoding="utf-8") == text.removeprefix("# earlier steps\n")


def test_the_diff_step_fails_on_an_unknown_base(tmp_path: Path) -> None:
    clone = clone_with_remote(tmp_path)
    subprocess.run(["git", "update-ref", "-d", "refs/remotes/origin/main"], cwd=clone, check=True)
    done, summary = _run_diff_step(clone, tmp_path)
    assert done.returncode == 2
    assert done.stderr == "orchrecon: error: unknown revision 'origin/main' (a remote branch must be fetched first)\n"
    assert summary.read_text(encoding="utf-8") == "# earlier steps\n"
