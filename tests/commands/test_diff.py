"""`orchrecon diff --base REV` against real git repositories: the base is a commit, the working tree is edited."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.cli import main
from orchrecon.reports.diff.markdown import COMMENT_LIMIT, MARKER
from tests.builders import CONFIG, git, small_repo, write

FROM = "2027-03-26T00:00Z"  # Prague springs forward on 2027-03-28

SECRET_CONFIG = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {{component: ex, name: b}}
spec:
  run:
    command: [python, -c, "print('b')"]
    env: {{KEY: {{fromEnv: {var}}}, PASSWORD: {password}, URL: "https://shop.example"}}
    timeout: {timeout}
  outputs: [in.c-ex.b]
"""

SALES = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: sales}}
spec:
  phases:
{phases}
  schedules:
    - {{cron: "{cron}", timezone: Europe/Prague}}
  trigger: {{tables: [in.c-ex.a], cooldown: {cooldown}}}
"""

BASE_PHASES = """\
    - name: extract
      tasks:
        - {name: orders, config: ex/a, parameters: {days: 3}}
        - {name: customers, config: ex/b}
        - {name: ads, config: ex/a}
    - name: transform
      tasks:
        - {name: mart, config: tr/mart}
        - {name: report, config: ex/a}
        - {name: cleanup, config: ex/b, parameters: {drop: true}}
"""

# orders renamed to shop-orders; customers moved to transform and disabled; ads moved behind a new task; mart
# continues on failure with another parameter; report runs another configuration; cleanup removed; a disabled
# task and a phase added.
HEAD_PHASES = """\
    - name: extract
      tasks:
        - {name: extra, config: ex/a, enabled: false}
        - {name: ads, config: ex/a}
        - {name: shop-orders, config: ex/a, parameters: {days: 3}}
    - name: transform
      tasks:
        - {name: customers, config: ex/b, enabled: false}
        - {name: mart, config: tr/mart, continueOnFailure: true, parameters: {full: true}}
        - {name: report, config: tr/mart}
    - name: load
      tasks:
        - {name: publish, config: tr/mart}
"""

SIMPLE = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: {name}}}
spec:
  phases:
    - name: main
      tasks: [{{name: first, config: ex/a}}]
  schedules: [{{cron: "{cron}"}}]
"""


def _commit(root: Path) -> str:
    """Make `root` a git repository with everything in it committed; returns the commit."""
    if not (root / ".git").exists():
        git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base", "--allow-empty")
    return git(root, "rev-parse", "HEAD").strip()


def _diff(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    code = main(["-C", str(root), "diff", "--base", "main", "--from", FROM, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = _diff(capsys, root, "--format", "json")
    return code, json.loads(out)


def _base(root: Path) -> str:
    """Every kind of document and change to come: committed."""
    write(root, "configurations/ex/a.yaml", CONFIG.format(component="ex", name="a", table="in.c-ex.a"))
    write(root, "configurations/ex/b.yaml", SECRET_CONFIG.format(var="SHOP_KEY", password="hunter2-x", timeout="1h"))
    write(root, "configurations/tr/mart.yaml", CONFIG.format(component="tr", name="mart", table="out.c-mart.m"))
    write(root, "orchestrations/sales.yaml", SALES.format(phases=BASE_PHASES, cron="0 6 * * *", cooldown="30m"))
    write(root, "orchestrations/legacy.yaml", SIMPLE.format(name="legacy", cron="0 1 * * *"))
    write(root, "orchestrations/broken.yaml", SIMPLE.format(name="broken", cron="0 2 * * *"))
    write(root, "orchestrations/steady.yaml", SIMPLE.format(name="steady", cron="0 3 * * *"))
    return _commit(root)


def _edit(root: Path) -> None:
    write(root, "configurations/ex/b.yaml", SECRET_CONFIG.format(var="SHOP_TOKEN", password="hunter3-y", timeout="2h"))
    write(root, "configurations/ex/c.yaml", CONFIG.format(component="ex", name="c", table="in.c-ex.c"))
    write(root, "orchestrations/sales.yaml", SALES.format(phases=HEAD_PHASES, cron="30 2 * * *", cooldown="1h"))
    (root / "orchestrations/legacy.yaml").unlink()
    write(root, "orchestrations/broken.yaml", SIMPLE.format(name="broken", cron="0 25 * * *"))
    write(root, "orchestrations/fresh.yaml", SIMPLE.format(name="fresh", cron="0 4 * * 1").replace("ex/a", "ex/c"))


def _stable(text: str, commit: str) -> str:
    return text.replace(commit, "<commit>").replace(commit[:12], "<commit>")


def test_markdown_shows_every_kind_of_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    commit = _base(tmp_path)
    _edit(tmp_path)
    code, out, err = _diff(capsys, tmp_path)
    assert (code, err) == (1, "")
    assert out.splitlines()[0] == (
        "**1 orchestration changes, 1 added, 1 removed, 1 invalid (kept at its last good definition); "
        "1 configuration changes, 1 added**"
    )
    assert _stable(out, commit) == snapshot


def test_json_holds_the_same_facts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion
) -> None:
    commit = _base(tmp_path)
    _edit(tmp_path)
    code, data = _json(capsys, tmp_path)
    assert code == 1
    assert data["changes"] is True
    assert [(o["name"], o["change"]) for o in data["orchestrations"]] == [
        ("broken", "invalid"),
        ("sales", "changed"),
        ("fresh", "added"),
        ("legacy", "removed"),
    ]
    assert json.loads(_stable(json.dumps(data), commit)) == snapshot


def _tasks(data: dict[str, Any], name: str = "sales") -> dict[str, dict[str, Any]]:
    orchestration = next(o for o in data["orchestrations"] if o["name"] == name)
    return {t["name"]: t for t in orchestration["tasks"]}


def test_a_renamed_task_is_told_from_a_removed_and_an_added_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _base(tmp_path)
    _edit(tmp_path)
    tasks = _tasks(_json(capsys, tmp_path)[1])
    assert tasks["shop-orders"]["renamedFrom"] == "orders"
    assert "orders" not in tasks
    assert tasks["extra"]["change"] == "added"
    assert tasks["publish"]["change"] == "added"


def test_a_rename_is_not_guessed_when_two_tasks_could_be_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _base(tmp_path)
    twins = BASE_PHASES.replace("{name: orders, config: ex/a, parameters: {days: 3}}", "{name: one, config: ex/a}")
    write(tmp_path, "orchestrations/sales.yaml", SALES.format(phases=twins, cron="0 6 * * *", cooldown="30m"))
    _commit(tmp_path)
    renamed = twins.replace("name: one", "name: uno").replace("name: ads", "name: anuncios")
    write(tmp_path, "orchestrations/sales.yaml", SALES.format(phases=renamed, cron="0 6 * * *", cooldown="30m"))
    tasks = _tasks(_json(capsys, tmp_path)[1])
    assert {n: t["change"] for n, t in tasks.items()} == {
        "uno": "added",
        "anuncios": "added",
        "one": "removed",
        "ads": "removed",
    }


def test_moved_tasks_to_another_phase_and_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _base(tmp_path)
    _edit(tmp_path)
    tasks = _tasks(_json(capsys, tmp_path)[1])
    assert (tasks["customers"]["movedFrom"], tasks["customers"]["phase"]) == (
        {"phase": "extract", "position": 2},
        "transform",
    )
    # ads (3rd) now comes before the renamed orders (1st): one of the two moved, and it is told as one move.
    assert tasks["ads"]["movedFrom"] == {"phase": "extract", "position": 3}
    assert "movedFrom" not in tasks["shop-orders"]
    assert tasks["mart"]["continueOnFailure"] == {"before": False, "after": True}
    assert tasks["mart"]["parameters"] == [{"key": "full", "after": "true"}]
    assert tasks["extra"]["definition"]["enabled"] is False
    assert tasks["customers"]["enabled"] == {"before": True, "after": False}
    assert tasks["report"]["config"] == {"before": "ex/a", "after": "tr/mart"}
    assert tasks["cleanup"]["change"] == "removed"


def _plan(capsys: pytest.CaptureFixture[str], root: Path, fmt: str) -> str:
    (root / ".state").mkdir(exist_ok=True)  # plan reads a state directory, it does not create one
    assert main(["-C", str(root), "--state-dir", str(root / ".state"), "plan", "--from", FROM, "--format", fmt]) == 0
    return capsys.readouterr().out


def test_fire_times_across_dst_are_the_ones_plan_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, before = tmp_path / "repo", tmp_path / "before"
    zoned = SIMPLE.replace('"{cron}"}', '"{cron}", timezone: Europe/Prague}')
    small_repo(repo)
    write(repo, "orchestrations/nightly.yaml", zoned.format(name="nightly", cron="0 6 * * *"))
    _commit(repo)
    git(tmp_path, "clone", "-q", str(repo), str(before))
    write(repo, "orchestrations/nightly.yaml", zoned.format(name="nightly", cron="30 2 * * *"))

    code, data = _json(capsys, repo)
    (nightly,) = data["orchestrations"]
    plans = {}
    for side, root in (("before", before), ("after", repo)):
        plan = json.loads(_plan(capsys, root, "json"))
        plans[side] = next(o for o in plan["orchestrations"] if o["name"] == "nightly")["schedules"]
        assert [{k: s[k] for k in plans[side][0]} for s in nightly["schedules"][side]] == plans[side]
    assert code == 1
    assert [t["local"][11:16] for t in plans["after"][0]["next"]] == ["02:30", "02:30", "03:00", "02:30", "02:30"]
    assert plans["before"][0]["next"] != plans["after"][0]["next"]

    _, markdown, _ = _diff(capsys, repo)
    for side, root in (("before", before), ("after", repo)):
        text = _plan(capsys, root, "text")
        nightly_text = text[text.index("nightly") :]
        printed = re.findall(r"^    (?:next|    )  (.+)$", nightly_text, re.MULTILINE)[:5]
        block = markdown[markdown.index(f"{side:<6}  30 2" if side == "after" else f"{side:<6}  0 6") :]
        assert [line.strip() for line in block.splitlines()[1:6]] == printed


def test_a_removed_orchestration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo(tmp_path, orchestrations=("daily", "gone"))
    _commit(tmp_path)
    (tmp_path / "orchestrations/gone.yaml").unlink()
    code, out, _ = _diff(capsys, tmp_path)
    assert code == 1
    assert out.splitlines()[0] == "**1 orchestration removed**"
    assert "| `-` | `gone` | removed: its schedules and trigger stop |" in out


def test_an_invalid_working_tree_is_a_change_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_repo(tmp_path, orchestrations=("daily", "weekly"))
    _commit(tmp_path)
    write(tmp_path, "orchestrations/weekly.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\nmetadata: {}\n")
    write(tmp_path, "orchestrations/new.yaml", "apiVersion: orchrecon/v1\nkind: Orchestration\nspec: [\n")
    code, out, _ = _diff(capsys, tmp_path)
    assert code == 1
    assert out.splitlines()[0] == "**2 orchestrations invalid (1 kept at its last good definition, 1 new)**"
    assert "- `orchestrations/weekly.yaml:3:11` error: missing required property 'name' `$.metadata`" in out
    assert "its definition at `main` keeps running" in out
    assert "**Validation** of the working tree: 3 errors in 2 files (4 files checked):" in out


def test_no_changes_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo(tmp_path)
    _commit(tmp_path)
    (tmp_path / "orchestrations/daily.yaml").write_text(
        (tmp_path / "orchestrations/daily.yaml").read_text() + "# a comment changes nothing\n"
    )
    code, out, _ = _diff(capsys, tmp_path)
    assert code == 0
    assert out.splitlines()[0] == "**No changes**"
    assert out.endswith(f"\n{MARKER}\n")


@pytest.mark.parametrize("base", ["no-such-branch", "--output=x", ""])
def test_an_unknown_base_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion, base: str
) -> None:
    small_repo(tmp_path)
    _commit(tmp_path)
    code = main(["-C", str(tmp_path), "diff", f"--base={base}"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == snapshot


def test_outside_git_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo(tmp_path)
    code = main(["-C", str(tmp_path), "diff", "--base", "main"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"orchrecon: error: unknown revision 'main': {tmp_path} is not in a git repository\n"


def test_a_bad_from_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo(tmp_path)
    _commit(tmp_path)
    assert main(["-C", str(tmp_path), "diff", "--base", "main", "--from", "tomorrow"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_secret_never_appears(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_KEY", "value-of-shop-key")
    monkeypatch.setenv("SHOP_TOKEN", "value-of-shop-token")
    _base(tmp_path)
    _edit(tmp_path)
    _, markdown, _ = _diff(capsys, tmp_path)
    _, out, _ = _diff(capsys, tmp_path, "--format", "json")
    for text in (markdown, out):
        assert "fromEnv SHOP_KEY" in text
        assert "fromEnv SHOP_TOKEN" in text
        for secret in ("value-of-shop-key", "value-of-shop-token", "hunter2", "hunter3"):
            assert secret not in text
    assert "`spec.run.env.PASSWORD` `(literal value, not shown)` → `(literal value, not shown)`" in markdown


def test_a_repository_in_a_folder_of_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo(tmp_path / "pipelines", orchestrations=("daily",))
    write(tmp_path, "README.md", "not a document\n")
    _commit(tmp_path)
    small_repo(tmp_path / "pipelines", orchestrations=("daily", "hourly"))
    code, out, _ = _diff(capsys, tmp_path / "pipelines")
    assert code == 1
    assert out.splitlines()[0] == "**1 orchestration added**"


def test_a_diff_too_large_for_a_comment_is_cut_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_repo(tmp_path)
    _commit(tmp_path)
    for i in range(300):
        write(tmp_path, f"orchestrations/o-{i:03d}.yaml", SIMPLE.format(name=f"o-{i:03d}", cron="*/5 * * * *"))
    code, out, _ = _diff(capsys, tmp_path)
    assert code == 1
    assert out.splitlines()[0] == "**300 orchestrations added**"
    assert COMMENT_LIMIT - 2000 < len(out) <= COMMENT_LIMIT
    assert out.count("<details>") == out.count("</details>") > 0
    assert re.search(
        r"\n> \*\*Cut\*\* to stay under GitHub's 65,536-character comment limit: \d+ detail sections left", out
    )
    assert out.endswith(f"\n{MARKER}\n")
    _, data = _json(capsys, tmp_path)
    assert len(data["orchestrations"]) == 300  # JSON is never cut
