"""The pure comparison and its markdown: documents in memory on both sides, `now` passed in."""

from __future__ import annotations

from datetime import UTC, datetime

from syrupy.assertion import SnapshotAssertion

from orchrecon.documents.result import Validation
from orchrecon.documents.validation import validate_files
from orchrecon.reports.diff import asjson, markdown
from orchrecon.reports.diff.compare import compare
from orchrecon.reports.diff.keys import HIDDEN_VALUE, key_changes, webhook_shown
from orchrecon.reports.diff.model import Change, Diff, KeyChange, Pair
from tests.builders import CONFIG

NOW = datetime(2027, 10, 30, tzinfo=UTC)  # Europe falls back on the 31st

PROJECT = """\
apiVersion: orchrecon/v1
kind: Project
spec:
  maxParallelJobs: {jobs}
  smtp: {{host: mail.example, from: o@example.com, username: robot, password: {password}}}
"""

ORCHESTRATION = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: {name}, description: {description}}}
spec:
  suspend: {suspend}
  phases:
{phases}
  notifications: [{{events: [failed], email: {email}}}]
"""

PHASES = """\
    - {name: a, tasks: [{name: one, config: ex/a}]}
    - {name: b, tasks: [{name: two, config: ex/a}]}
    - {name: c, tasks: [{name: three, config: ex/a}]}
"""


def _validation(files: dict[str, str]) -> Validation:
    return validate_files({path: text.encode() for path, text in files.items()})


def _orchestration(
    name: str = "o", *, phases: str = PHASES, suspend: bool = False, email: str = "a@example.com"
) -> str:
    return ORCHESTRATION.format(
        name=name, description=f"about {email}", suspend=str(suspend).lower(), phases=phases, email=email
    )


def _config(name: str) -> str:
    return CONFIG.format(component="ex", name=name, table=f"in.c-ex.{name}")


def _diff(base: dict[str, str], head: dict[str, str]) -> Diff:
    return compare(_validation(base), _validation(head), base_name="origin/main", commit="f" * 40, now=NOW)


BASE = {
    "orchrecon.yaml": PROJECT.format(jobs=8, password="{fromEnv: SMTP_PASSWORD}"),
    "configurations/ex/a.yaml": _config("a"),
    "configurations/ex/old.yaml": _config("old"),
    "configurations/ex/shaky.yaml": _config("shaky"),
    "orchestrations/o.yaml": _orchestration(),
}


def _head() -> dict[str, str]:
    reordered = PHASES.splitlines()
    return {
        "orchrecon.yaml": PROJECT.format(jobs=4, password="plain-text-password"),
        "configurations/ex/a.yaml": _config("a"),
        "configurations/ex/shaky.yaml": _config("shaky").replace("outputs:", "outputz:"),
        "configurations/misplaced.yaml": _config("misplaced"),
        "orchestrations/o.yaml": _orchestration(
            phases="\n".join([reordered[2], reordered[0]]) + "\n", suspend=True, email="b@example.com"
        ),
    }


def test_orchestration_settings_phases_and_notifications(snapshot: SnapshotAssertion) -> None:
    (o,) = _diff(BASE, _head()).orchestrations
    assert o.change is Change.CHANGED
    assert [(p.name, p.change, p.before, p.after) for p in o.phases] == [
        ("c", Change.MOVED, 3, 1),
        ("b", Change.REMOVED, 2, None),
    ]
    assert o.suspend == Pair(False, True)
    assert o.description == Pair("about a@example.com", "about b@example.com")
    assert o.notifications is not None
    # `three` moved with its phase, not within it
    assert [(t.name, t.change) for t in o.tasks] == [("two", Change.REMOVED)]
    assert asjson.to_json(_diff(BASE, _head())) == snapshot


def test_configurations_removed_and_invalid_and_other_files(snapshot: SnapshotAssertion) -> None:
    diff = _diff(BASE, _head())
    assert [(c.ref, c.change) for c in diff.configurations] == [
        ("ex/shaky", Change.INVALID),
        ("ex/old", Change.REMOVED),
    ]
    assert diff.other_invalid == ("configurations/misplaced.yaml",)
    assert diff.verdict == (
        "1 orchestration changes; 1 configuration removed, 1 invalid "
        "(what uses it is kept at its last good definition); project settings change; 1 other file invalid"
    )
    assert markdown.render(diff) == snapshot


def test_project_settings_hide_a_literal_password() -> None:
    keys = {k.key: k for k in _diff(BASE, _head()).project}
    assert keys["spec.maxParallelJobs"] == KeyChange(key="spec.maxParallelJobs", before="8", after="4")
    assert keys["spec.smtp.password"] == KeyChange(
        key="spec.smtp.password", before="fromEnv SMTP_PASSWORD", after=HIDDEN_VALUE
    )


def test_key_changes_walk_mappings_and_compare_the_rest_whole() -> None:
    before = {"a": {"b": 1, "c": [1, 2]}, "gone": True, "env": {"fromEnv": "X"}}
    after = {"a": {"b": 2, "c": [1, 2], "d": None}, "env": {"fromEnv": "Y"}, "long": "x" * 100}
    assert list(key_changes(before, after)) == [
        KeyChange(key="a.b", before="1", after="2"),
        KeyChange(key="a.d", before=None, after="null"),
        KeyChange(key="gone", before="true", after=None),
        KeyChange(key="env", before="fromEnv X", after="fromEnv Y"),
        KeyChange(key="long", before=None, after='"' + "x" * 78 + "…"),
    ]


def test_a_task_added_on_top_moves_nothing() -> None:
    phases = (
        "    - {name: a, tasks: [{name: one, config: ex/a}, {name: two, config: ex/a}, {name: three, config: ex/a}]}\n"
    )
    on_top = phases.replace("[{name: one", "[{name: zero, config: ex/a}, {name: one")
    base = {**BASE, "orchestrations/o.yaml": _orchestration(phases=phases)}
    head = {**BASE, "orchestrations/o.yaml": _orchestration(phases=on_top)}
    (o,) = _diff(base, head).orchestrations
    assert [(t.name, t.change, t.moved_from) for t in o.tasks] == [("zero", Change.ADDED, None)]


def test_a_document_invalid_at_the_base_and_valid_now_is_added_and_says_so() -> None:
    base = {**BASE, "orchestrations/o.yaml": _orchestration().replace("config: ex/a", "config: ex/nope")}
    (o,) = _diff(base, BASE).orchestrations
    assert (o.change, o.invalid_at_base) == (Change.ADDED, True)
    assert "| `+` | `o` | added: 3 phases, 3 tasks; invalid at the base |" in markdown.render(_diff(base, BASE))


def test_no_changes() -> None:
    diff = _diff(BASE, BASE)
    assert (diff.changes, diff.verdict) == (False, "No changes")
    assert markdown.render(diff).splitlines()[0] == "**No changes**"


def test_a_small_limit_cuts_inside_a_table_and_says_so() -> None:
    head = {**BASE, **{f"orchestrations/o{i}.yaml": _orchestration(f"o{i}") for i in range(40)}}
    full = markdown.render(_diff(BASE, head))
    cut = markdown.render(_diff(BASE, head), limit=2000)
    assert len(cut) <= 2000 < len(full)
    assert cut.startswith("**40 orchestrations added**\n")
    assert "rows" not in cut
    note = cut.splitlines()[-3]
    assert note.startswith("> **Cut** to stay under GitHub's 65,536-character comment limit: ")
    assert note.endswith("left out. `orchrecon diff --base origin/main` shows everything.")
    assert "40 detail sections" in note


def test_a_webhook_shows_its_host_only() -> None:
    assert webhook_shown("https://hooks.slack.com/services/T0/B0/secret") == "https://hooks.slack.com/…"
    assert webhook_shown("https://hooks.example?token=secret") == "https://hooks.example/…"
    assert webhook_shown("https://hooks.example/") == "https://hooks.example"
    head = {
        **BASE,
        "orchestrations/o.yaml": _orchestration().replace("email: a@example.com", "webhook: https://h.example/s3cret"),
    }
    out = markdown.render(_diff(BASE, head))
    assert "failed → webhook https://h.example/… (overtime 50%)" in out
    assert "s3cret" not in out
    assert "s3cret" not in str(asjson.to_json(_diff(BASE, head)))
