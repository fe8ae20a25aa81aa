"""`orchrecon diff` as markdown for a pull-request comment, in the style of an Atlantis plan comment: a one-line
verdict, tables of what changes, the validation result, then one `<details>` per orchestration and configuration.
Kept under GitHub's comment limit: cut, with a note, when larger. Pure."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from orchrecon.documents.durations import format_duration
from orchrecon.documents.model import Notification, Orchestration, Task, Trigger
from orchrecon.errors import Diagnostic, Severity
from orchrecon.reports.diff.keys import webhook_shown
from orchrecon.reports.diff.model import (
    Change,
    ConfigurationDiff,
    Diff,
    KeyChange,
    OrchestrationDiff,
    ScheduleView,
    TaskDiff,
)
from orchrecon.scheduling.labels import local_label, offset_label, utc_label

MARKER = "<!-- orchrecon-diff -->"  # lets a workflow find its earlier comment and replace it
COMMENT_LIMIT = 65_536  # characters GitHub accepts in one comment

_SIGN = {Change.ADDED: "+", Change.REMOVED: "-", Change.CHANGED: "~", Change.INVALID: "!"}


@dataclass(frozen=True)
class _Block:
    text: str
    details: bool = False  # one orchestration's or configuration's <details>


def render(diff: Diff, *, limit: int = COMMENT_LIMIT) -> str:
    """The comment: at most `limit` characters, ending with MARKER."""
    head = (
        f"**{diff.verdict}**\n\n"
        f"orchrecon diff of the working tree against `{diff.base}` (`{diff.commit[:12]}`); "
        f"fire times from {utc_label(diff.now)}.\n"
    )
    blocks = [
        *_orchestration_table(diff.orchestrations),
        *_configuration_table(diff.configurations),
        *_project(diff.project),
        *_validation(diff),
        *(_Block(_orchestration_details(o, diff.base), details=True) for o in diff.orchestrations),
        *(_Block(_configuration_details(c), details=True) for c in diff.configurations),
    ]
    return _fit(head, blocks, limit, diff.base)


def _fit(head: str, blocks: Sequence[_Block], limit: int, base: str) -> str:
    tail = f"\n{MARKER}\n"
    if len(head) + sum(len(b.text) for b in blocks) + len(tail) <= limit:
        return head + "".join(b.text for b in blocks) + tail
    room = limit - len(head) - len(tail) - len(_note(len(blocks), len(blocks), base))
    out, used = [head], 0
    for i, block in enumerate(blocks):
        if used + len(block.text) > room:
            rest = blocks[i:]
            out.append(_note(sum(1 for b in rest if not b.details), sum(1 for b in rest if b.details), base))
            break
        out.append(block.text)
        used += len(block.text)
    return "".join(out) + tail


def _note(lines: int, details: int, base: str) -> str:
    left = " and ".join(
        p for p in (_plural(lines, "line") if lines else "", _plural(details, "detail section") if details else "") if p
    )
    return (
        f"\n\n> **Cut** to stay under GitHub's {COMMENT_LIMIT:,}-character comment limit: {left} left out. "
        f"`orchrecon diff --base {base}` shows everything.\n"
    )


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- the tables on top ---------------------------------------------------------------------------------------


def _orchestration_table(orchestrations: Sequence[OrchestrationDiff]) -> Iterator[_Block]:
    if not orchestrations:
        return
    yield _Block("\n| | Orchestration | Change |\n|---|---|---|\n")
    for o in orchestrations:
        yield _Block(f"| `{_SIGN[o.change]}` | `{o.name}` | {_orchestration_summary(o)} |\n")


def _orchestration_summary(o: OrchestrationDiff) -> str:
    if o.change is Change.ADDED:
        assert o.after is not None
        return f"added: {_shape(o.after)}" + ("; invalid at the base" if o.invalid_at_base else "")
    if o.change is Change.REMOVED:
        return "removed: its schedules and trigger stop"
    if o.change is Change.INVALID:
        return f"invalid: {_kept(o)}"
    aspects = [_task_summary(o.tasks)] if o.tasks else []
    aspects += [
        label
        for label, changed in (
            ("phases", o.phases),
            ("schedules", o.schedules),
            ("trigger", o.trigger),
            ("notifications", o.notifications),
            ("description", o.description),
            ("suspended" if o.after and o.after.suspend else "resumed", o.suspend),
        )
        if changed
    ]
    return "changed: " + "; ".join(aspects)


def _shape(o: Orchestration) -> str:
    parts = [_plural(len(o.phases), "phase"), _plural(len(o.tasks()), "task")]
    if o.schedules:
        parts.append(_plural(len(o.schedules), "schedule"))
    if o.trigger:
        parts.append("trigger")
    return ", ".join(parts)


def _task_summary(tasks: Sequence[TaskDiff]) -> str:
    counts = {
        "added": sum(t.change is Change.ADDED for t in tasks),
        "removed": sum(t.change is Change.REMOVED for t in tasks),
        "renamed": sum(t.renamed_from is not None for t in tasks),
        "moved": sum(t.moved_from is not None for t in tasks),
        "changed": sum(_settings_changed(t) for t in tasks),
    }
    return "tasks " + ", ".join(f"{n} {word}" for word, n in counts.items() if n)


def _settings_changed(t: TaskDiff) -> bool:
    return bool(t.config or t.enabled or t.continue_on_failure or t.parameters)


def _kept(o: OrchestrationDiff) -> str:
    return "kept at its last good definition" if o.kept else "new, not applied"


def _configuration_table(configurations: Sequence[ConfigurationDiff]) -> Iterator[_Block]:
    if not configurations:
        return
    yield _Block("\n| | Configuration | Change | Used by |\n|---|---|---|---|\n")
    for c in configurations:
        summary = {
            Change.ADDED: "added",
            Change.REMOVED: "removed",
            Change.INVALID: "invalid: what uses it stays at its last good definition",
            Change.CHANGED: "changed: "
            + ", ".join(f"`{k.key}`" for k in c.keys[:5])
            + (" …" if len(c.keys) > 5 else ""),
        }[c.change]
        used = ", ".join(f"`{n}`" for n in c.used_by[:5]) + (
            f" and {len(c.used_by) - 5} more" if len(c.used_by) > 5 else ""
        )
        yield _Block(f"| `{_SIGN[c.change]}` | `{c.ref}` | {summary} | {used or 'nothing'} |\n")


def _project(keys: Sequence[KeyChange]) -> Iterator[_Block]:
    if keys:
        yield _Block("\n**Project settings** (`orchrecon.yaml`):\n" + "".join(f"- {_key_change(k)}\n" for k in keys))


def _validation(diff: Diff) -> Iterator[_Block]:
    errors = [d for d in diff.diagnostics if d.severity is Severity.ERROR]
    warnings = [d for d in diff.diagnostics if d.severity is Severity.WARNING]
    if not diff.diagnostics:
        yield _Block(f"\n**Validation** of the working tree: valid ({_plural(diff.files, 'file')} checked).\n")
        return
    counts = ", ".join(
        p
        for p in (
            _plural(len(errors), "error") if errors else "",
            _plural(len(warnings), "warning") if warnings else "",
        )
        if p
    )
    files = len({d.file for d in diff.diagnostics})
    yield _Block(
        f"\n**Validation** of the working tree: {counts} in {_plural(files, 'file')} "
        f"({_plural(diff.files, 'file')} checked):\n\n"
    )
    for d in diff.diagnostics:
        yield _Block(f"- {_diagnostic(d)}\n")


def _diagnostic(d: Diagnostic) -> str:
    return f"`{d.file}:{d.line}:{d.col}` {d.severity.value}: {_text(d.message)} `{d.json_path}`"


# --- details ---------------------------------------------------------------------------------------------------


def _orchestration_details(o: OrchestrationDiff, base: str) -> str:
    lines = [
        "",
        f"<details><summary><code>{_SIGN[o.change]} {o.name}</code> {_text(_orchestration_summary(o))}</summary>",
        "",
        f"File `{o.file}`.",
        "",
    ]
    if o.change is Change.INVALID:
        kept = f"its definition at `{base}` keeps running" if o.kept else "it is new, so nothing of it is applied"
        lines += [f"Invalid in the working tree; {kept}:", "", *(f"- {_diagnostic(d)}" for d in o.diagnostics), ""]
    elif o.change is Change.REMOVED:
        lines += ["Removed: its schedules and trigger stop; its runs stay in the ledger.", ""]
    elif o.change is Change.ADDED:
        assert o.after is not None
        lines += ["Phases and tasks:", "", *_definition(o.after), ""]
    else:
        lines += _changes(o)
    if o.schedules is not None:
        lines += ["Schedules, next fire times local and UTC:", "", "```text"]
        if o.change is not Change.ADDED:
            lines += _schedules("before", o.schedules[0])
        if o.change is not Change.REMOVED:
            lines += _schedules("after", o.schedules[1])
        lines += ["```", ""]
    if o.trigger is not None:
        lines += _before_after("Trigger", _trigger(o.trigger.before), _trigger(o.trigger.after), o)
    if o.notifications is not None:
        before = "; ".join(_notification(n) for n in o.notifications.before) or "none"
        after = "; ".join(_notification(n) for n in o.notifications.after) or "none"
        lines += _before_after("Notifications", before, after, o)
    if o.changed_configurations:
        refs = ", ".join(f"`{r}`" for r in o.changed_configurations)
        lines += [f"Uses configurations that change: {refs}.", ""]
    lines += ["</details>", ""]
    return "\n".join(lines)


def _before_after(what: str, before: str, after: str, o: OrchestrationDiff) -> list[str]:
    if o.change is Change.ADDED:
        return [f"{what}: {_text(after)}.", ""]
    if o.change is Change.REMOVED:
        return [f"{what} before: {_text(before)}.", ""]
    return [f"{what}:", "", f"- before: {_text(before)}", f"- after: {_text(after)}", ""]


def _definition(o: Orchestration) -> list[str]:
    lines = []
    for i, phase in enumerate(o.phases, start=1):
        tasks = ", ".join(f"`{t.name}` ({_task_settings(t)})" for t in phase.tasks)
        lines.append(f"{i}. `{phase.name}`: {tasks}")
    return lines


def _task_settings(task: Task) -> str:
    notes = [f"`{task.config}`"]
    notes += ["disabled"] if not task.enabled else []
    notes += ["continues on failure"] if task.continue_on_failure else []
    return ", ".join(notes)


def _changes(o: OrchestrationDiff) -> list[str]:
    lines: list[str] = []
    if o.description:
        lines.append(f"- description: {_code(_or_none(o.description.before))} → {_code(_or_none(o.description.after))}")
    if o.suspend:
        lines.append(
            "- suspended: schedules and triggers stop"
            if o.suspend.after
            else "- resumed: schedules and triggers start again"
        )
    if lines:
        lines.append("")
    if o.phases:
        lines += ["Phases:", ""]
        for p in o.phases:
            where = {
                Change.ADDED: f"added at position {p.after}",
                Change.REMOVED: f"removed (was at position {p.before})",
                Change.MOVED: f"moved from position {p.before} to {p.after}",
            }[p.change]
            lines.append(f"- `{p.name}` {where}")
        lines.append("")
    if o.tasks:
        lines += ["Tasks:", "", *(f"- {_task(t)}" for t in o.tasks), ""]
    return lines


def _task(t: TaskDiff) -> str:
    where = f"phase `{t.place.phase}`"
    if t.change is Change.ADDED:
        return f"`+ {t.name}` added in {where}: {_task_settings(t.task)}"
    if t.change is Change.REMOVED:
        return f"`- {t.name}` removed from {where} (ran `{t.task.config}`)"
    facts = []
    if t.renamed_from:
        facts.append(f"renamed from `{t.renamed_from}`")
    if t.moved_from:
        if t.moved_from.phase != t.place.phase:
            facts.append(f"moved from phase `{t.moved_from.phase}` to `{t.place.phase}`")
        else:
            facts.append(f"moved from position {t.moved_from.position} to {t.place.position}")
    if t.config:
        facts.append(f"configuration `{t.config.before}` → `{t.config.after}`")
    if t.enabled:
        facts.append("enabled" if t.enabled.after else "disabled")
    if t.continue_on_failure:
        facts.append("continues on failure" if t.continue_on_failure.after else "no longer continues on failure")
    if t.parameters:
        facts.append("parameters " + ", ".join(_key_change(k) for k in t.parameters))
    return f"`~ {t.name}` in {where}: " + "; ".join(facts)


def _key_change(k: KeyChange) -> str:
    if k.before is None:
        return f"`{k.key}` added: {_code(k.after or '')}"
    if k.after is None:
        return f"`{k.key}` removed (was {_code(k.before)})"
    return f"`{k.key}` {_code(k.before)} → {_code(k.after)}"


def _schedules(side: str, views: Sequence[ScheduleView]) -> list[str]:
    if not views:
        return [f"{side:<6}  no schedules"]
    lines = []
    for view in views:
        s = view.schedule
        tz = ZoneInfo(s.timezone)
        lines.append(f"{side:<6}  {s.cron} ({s.timezone}, catch-up {s.catch_up.value})")
        lines += [f"        {local_label(at.astimezone(tz))}  ({utc_label(at)})" for at in view.fires]
        for t in view.transitions:
            before, after = offset_label(t.before.total_seconds()), offset_label(t.after.total_seconds())
            lines.append(f"  DST   {utc_label(t.at)}: UTC{before} -> UTC{after}")
        if not view.fires:
            lines.append("        never fires")
    return lines


def _configuration_details(c: ConfigurationDiff) -> str:
    lines = [
        "",
        f"<details><summary><code>{_SIGN[c.change]} {c.ref}</code> {c.change.value}</summary>",
        "",
        f"File `{c.file}`; used by {', '.join(f'`{n}`' for n in c.used_by) or 'no orchestration'}.",
        "",
    ]
    if c.change is Change.CHANGED:
        lines += [*(f"- {_key_change(k)}" for k in c.keys), ""]
    if c.change is Change.INVALID:
        lines += [*(f"- {_diagnostic(d)}" for d in c.diagnostics), ""]
    lines += ["</details>", ""]
    return "\n".join(lines)


def _trigger(trigger: Trigger | None) -> str:
    """`when in.a, in.b are all updated, cool-down 50m`, or `none`."""
    if trigger is None:
        return "none"
    tables = f"{trigger.tables[0]} is" if len(trigger.tables) == 1 else f"{', '.join(trigger.tables)} are all"
    return f"when {tables} updated, cool-down {format_duration(trigger.cooldown)}"


def _notification(notification: Notification) -> str:
    """`failed, warning → email data@example.com (overtime 50%)`."""
    events = ", ".join(sorted(e.value for e in notification.events))
    target = (
        f"email {notification.email}" if notification.email else f"webhook {webhook_shown(notification.webhook or '')}"
    )
    return f"{events} → {target} (overtime {notification.overtime_percent}%)"


# --- text ------------------------------------------------------------------------------------------------------


def _or_none(value: object) -> str:
    return str(value) if value else "(none)"


def _text(text: str) -> str:
    """Plain text that markdown and HTML show as written."""
    return html.escape(text, quote=False).replace("|", "\\|")


_TICKS = re.compile(r"`+")


def _code(text: str) -> str:
    """`text` as a code span, however many backticks it holds."""
    fence = "`" * (max((len(m) for m in _TICKS.findall(text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")
