"""Semantic checks the schema cannot express: names vs. files, references, cron, time zones, intent."""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from orchrecon.cron import CronError, parse_cron
from orchrecon.errors import Diagnostic, Severity
from orchrecon.loader import Document, JsonPath
from orchrecon.model import Configuration, Orchestration
from orchrecon.schema import render_path

if TYPE_CHECKING:
    from orchrecon.validation import Validation

MIN_SCHEDULE_GAP_MINUTES = 5
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def diagnostic(
    doc: Document, path: JsonPath, message: str, *, severity: Severity = Severity.ERROR, key: bool = False
) -> Diagnostic:
    line, col = doc.position(path, key=key)
    return Diagnostic(
        file=doc.file, line=line, col=col, message=message, json_path=render_path(path), severity=severity
    )


def duplicate(result: Validation, key: str, doc: Document, path: JsonPath, what: str) -> bool:
    """Record `key` as defined by `doc`; if another file defined it first, report that and return True."""
    other = result.files.get(key)
    if other is not None:
        result.diagnostics.append(diagnostic(doc, path, f"{what} is also defined in {other}"))
        return True
    result.files[key] = doc.file
    return False


@cache
def zone_problem(name: str) -> str | None:
    """Why `name` is not a usable IANA time zone, or None."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(name, _zone_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown time zone {name!r} (use an IANA name such as Europe/Prague){hint}"
    return None


@cache
def _zone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def configuration_problems(doc: Document, config: Configuration) -> Iterator[Diagnostic]:
    parts = doc.file.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    if config.component != parts[1]:
        yield diagnostic(
            doc,
            ("metadata", "component"),
            f"component {config.component!r} does not match its folder {parts[1]!r}",
        )
    if config.name != stem:
        yield diagnostic(doc, ("metadata", "name"), f"name {config.name!r} does not match the file name {stem!r}")
    if config.run.timeout <= timedelta(0):
        yield diagnostic(doc, ("spec", "run", "timeout"), "timeout must be longer than 0s")
    http = config.run.http
    if http and http.poll and http.poll.interval <= timedelta(0):
        yield diagnostic(doc, ("spec", "run", "http", "poll", "interval"), "poll interval must be longer than 0s")


def orchestration_problems(doc: Document, orchestration: Orchestration) -> Iterator[Diagnostic]:
    stem = doc.file.split("/")[-1].rsplit(".", 1)[0]
    if orchestration.name != stem:
        yield diagnostic(
            doc, ("metadata", "name"), f"name {orchestration.name!r} does not match the file name {stem!r}"
        )
    yield from _unique_names(
        doc, [(("spec", "phases", i), p.name) for i, p in enumerate(orchestration.phases)], "phase"
    )
    tasks = [
        (("spec", "phases", i, "tasks", j), t.name)
        for i, p in enumerate(orchestration.phases)
        for j, t in enumerate(p.tasks)
    ]
    yield from _unique_names(doc, tasks, "task")
    for i, schedule in enumerate(orchestration.schedules):
        yield from _schedule_problems(doc, ("spec", "schedules", i), schedule.cron, schedule.timezone)
    if not any(t.enabled for t in orchestration.tasks()):
        yield diagnostic(
            doc, ("spec", "phases"), "every task is disabled; runs will do nothing", severity=Severity.WARNING
        )
    yield from notification_problems(doc, doc.data["spec"].get("notifications", []), ("spec", "notifications"))


def _unique_names(doc: Document, named: Sequence[tuple[JsonPath, str]], what: str) -> Iterator[Diagnostic]:
    first: dict[str, int] = {}
    for path, name in named:
        if name in first:
            yield diagnostic(doc, (*path, "name"), f"duplicate {what} name {name!r} (first at line {first[name]})")
        else:
            first[name] = doc.position((*path, "name"))[0]


def _schedule_problems(doc: Document, path: JsonPath, cron: str, timezone: str) -> Iterator[Diagnostic]:
    try:
        expr = parse_cron(cron)
    except CronError as exc:
        yield diagnostic(doc, (*path, "cron"), f"invalid cron {cron!r}: {exc}")
    else:
        gap = expr.min_gap_minutes()
        if gap < MIN_SCHEDULE_GAP_MINUTES:
            yield diagnostic(
                doc,
                (*path, "cron"),
                f"schedule fires every {gap} minute(s), more often than every {MIN_SCHEDULE_GAP_MINUTES} minutes",
                severity=Severity.WARNING,
            )
    problem = zone_problem(timezone)
    if problem:
        yield diagnostic(doc, (*path, "timezone"), problem)


def notification_problems(doc: Document, notifications: list[Any], path: JsonPath) -> Iterator[Diagnostic]:
    for i, notification in enumerate(notifications):
        email = notification.get("email")
        if email is not None and not _EMAIL.fullmatch(email):
            yield diagnostic(doc, (*path, i, "email"), f"{email!r} is not an email address")


def check_repository(result: Validation) -> None:
    """Cross-file checks; an orchestration whose references do not hold is dropped from the valid set."""
    invalid_configs = {
        "/".join(doc.file.split("/")[1:3]).rsplit(".", 1)[0]
        for doc in result.documents.values()
        if doc.file.startswith("configurations/") and doc.file not in _valid_files(result)
    }
    outputs = {table for config in result.configurations.values() for table in config.outputs}
    for name, orchestration in list(result.orchestrations.items()):
        doc = result.documents[result.files[f"Orchestration/{name}"]]
        problems = list(_reference_problems(result, doc, orchestration, invalid_configs))
        result.diagnostics.extend(problems)
        if problems:
            del result.orchestrations[name]
            continue
        if orchestration.trigger:
            for i, table in enumerate(orchestration.trigger.tables):
                if table not in outputs:
                    result.diagnostics.append(
                        diagnostic(
                            doc,
                            ("spec", "trigger", "tables", i),
                            f"no configuration outputs {table!r}; it must be reported from outside "
                            "(orchrecon tables touch or the API)",
                            severity=Severity.WARNING,
                        )
                    )


def _valid_files(result: Validation) -> set[str]:
    return {result.files[f"Configuration/{ref}"] for ref in result.configurations}


def _reference_problems(
    result: Validation, doc: Document, orchestration: Orchestration, invalid_configs: set[str]
) -> Iterator[Diagnostic]:
    for i, phase in enumerate(orchestration.phases):
        for j, task in enumerate(phase.tasks):
            if task.config in result.configurations:
                continue
            path = ("spec", "phases", i, "tasks", j, "config")
            if task.config in invalid_configs:
                message = f"configuration {task.config!r} is invalid; fix its file first"
            else:
                close = difflib.get_close_matches(task.config, list(result.configurations), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                message = f"unknown configuration {task.config!r}{hint}"
            yield diagnostic(doc, path, message)
