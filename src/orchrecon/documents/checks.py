"""Semantic checks the schema cannot express: names vs. files, references, cron, time zones, intent."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from orchrecon.documents.cron import CronError, parse_cron
from orchrecon.documents.durations import format_duration, parse_duration
from orchrecon.documents.loader import Document, JsonPath
from orchrecon.documents.model import Configuration, Orchestration
from orchrecon.documents.result import Validation
from orchrecon.documents.schema import render_path
from orchrecon.documents.sizes import parse_amount
from orchrecon.errors import Diagnostic, Severity

MIN_SCHEDULE_GAP_MINUTES = 5
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


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
    if name in _zone_names():
        return None
    close = difflib.get_close_matches(name, sorted(_zone_names()), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown time zone {name!r} (use an IANA name such as Europe/Prague){hint}"


@cache
def _zone_names() -> frozenset[str]:
    # The shipped tzdata's list, not the host's zoneinfo folder: a name must mean the same zone on a
    # laptop and in a slim container, and files like `localtime` or `posixrules` are not zones.
    return frozenset((resources.files("tzdata") / "zones").read_text(encoding="utf-8").split())


# Where each kind holds durations, and the least each may be.
_DURATIONS: dict[str, tuple[tuple[JsonPath, timedelta], ...]] = {
    "Configuration": (
        (("spec", "run", "timeout"), timedelta(seconds=1)),
        (("spec", "run", "http", "timeout"), timedelta(seconds=1)),
        (("spec", "run", "http", "poll", "interval"), timedelta(seconds=1)),
        (("spec", "run", "http", "poll", "timeout"), timedelta(seconds=1)),
        (("spec", "run", "keboola", "pollInterval"), timedelta(seconds=1)),
    ),
    "Orchestration": ((("spec", "trigger", "cooldown"), timedelta(minutes=1)),),
}


def _get(data: Any, path: JsonPath) -> Any:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def duration_problems(doc: Document, kind: str) -> Iterator[Diagnostic]:
    """Durations that do not parse, are too long or too short (checked before the model is built)."""
    for path, least in _DURATIONS.get(kind, ()):
        text = _get(doc.data, path)
        if text is None:
            continue
        try:
            value = parse_duration(text)
        except ValueError as exc:
            yield diagnostic(doc, path, str(exc))
            continue
        if value < least:
            yield diagnostic(doc, path, f"{path[-1]} must be at least {format_duration(least)}, got {text!r}")


HTTP_RESOURCES = (
    "resources are what a Dask worker must offer to run a command; {run} is made by orchrecon itself, "
    "never on a worker: remove resources"
)


def resource_problems(doc: Document, kind: str) -> Iterator[Diagnostic]:
    """Resources on an http run, and sizes that are zero or not whole bytes (checked before the model is built)."""
    run = _get(doc.data, ("spec", "run"))
    resources = _get(run, ("resources",))
    if kind != "Configuration" or not resources:
        return
    path = ("spec", "run", "resources")
    for key, shown in (("http", "an http run"), ("keboola", "a keboola run (a job in Keboola)")):
        if key in run:
            yield diagnostic(doc, path, HTTP_RESOURCES.format(run=shown), key=True)
    for name, amount in resources.items():
        try:
            parse_amount(amount)
        except ValueError as exc:
            yield diagnostic(doc, (*path, name), str(exc))


LITERAL_TOKEN = (
    "a Storage API token written here is in git and in every run's recorded definition: give it as"
    " {fromEnv: VAR}, and revoke the one committed"
)


def secret_problems(doc: Document, kind: str) -> Iterator[Diagnostic]:
    """A Keboola token given literally (checked before the model is built, which would record it). The message
    never repeats the value."""
    path = ("spec", "run", "keboola", "token")
    if kind == "Configuration" and isinstance(_get(doc.data, path), str):
        yield diagnostic(doc, path, LITERAL_TOKEN)


def _url_problem(url: str, *, templated: bool = False) -> str | None:
    probe = re.sub(r"\{[^{}/]*\}", "x", url) if templated else url
    parts = urlsplit(probe)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in probe):
        return f"{url!r} is not an http:// or https:// URL"
    return None


LITERAL_WEBHOOK = (
    "a webhook URL with a path, query or credentials is usually a secret (a Slack hook's path is its key), "
    "and written here it is in git and in every run's recorded definition: give it as {fromEnv: VAR}"
)


def _carries_secret(url: str) -> bool:
    """Whether a URL has more than its scheme and host (and port): the part incoming webhooks keep secret."""
    parts = urlsplit(url)
    return parts.path not in ("", "/") or bool(parts.query) or bool(parts.username or parts.password)


def http_problems(doc: Document) -> Iterator[Diagnostic]:
    http = _get(doc.data, ("spec", "run", "http"))
    if not http:
        return
    problem = _url_problem(http["url"], templated=True)
    if problem:
        yield diagnostic(doc, ("spec", "run", "http", "url"), problem)
    poll_url = _get(http, ("poll", "url"))
    if poll_url is not None and not poll_url.startswith("/") and _url_problem(poll_url, templated=True):
        yield diagnostic(
            doc,
            ("spec", "run", "http", "poll", "url"),
            f"{poll_url!r} is neither a JSON pointer into the response (/id) nor a URL template "
            "(https://api.example/jobs/{id})",
        )


def keboola_problems(doc: Document) -> Iterator[Diagnostic]:
    url = _get(doc.data, ("spec", "run", "keboola", "url"))
    if isinstance(url, str) and (problem := _url_problem(url)):
        yield diagnostic(doc, ("spec", "run", "keboola", "url"), problem)


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
    yield from http_problems(doc)
    yield from keboola_problems(doc)


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
    seen: dict[tuple[str, str], int] = {}
    for i, schedule in enumerate(orchestration.schedules):
        yield from _schedule_problems(doc, ("spec", "schedules", i), schedule.cron, schedule.timezone)
        same = seen.setdefault((schedule.cron, schedule.timezone), i)
        if same != i:
            yield diagnostic(doc, ("spec", "schedules", i), f"the same schedule as schedule {same + 1}")
    if not any(t.enabled for t in orchestration.tasks()):
        yield diagnostic(
            doc, ("spec", "phases"), "every task is disabled; runs will do nothing", severity=Severity.WARNING
        )
    yield from notification_problems(doc, doc.data["spec"].get("notifications", []), ("spec", "notifications"))


def _unique_names(doc: Document, named: Sequence[tuple[JsonPath, str]], what: str) -> Iterator[Diagnostic]:
    first: dict[str, JsonPath] = {}
    for path, name in named:
        if name not in first:
            first[name] = path
            continue
        line = doc.position((*first[name], "name"))[0]
        yield diagnostic(doc, (*path, "name"), f"duplicate {what} name {name!r} (first at line {line})")


def _schedule_problems(doc: Document, path: JsonPath, cron: str, timezone: str) -> Iterator[Diagnostic]:
    for message, severity in _cron_problems(cron):
        yield diagnostic(doc, (*path, "cron"), message, severity=severity)
    problem = zone_problem(timezone)
    if problem:
        yield diagnostic(doc, (*path, "timezone"), problem)


@cache
def _cron_problems(cron: str) -> tuple[tuple[str, Severity], ...]:
    """What is wrong with a cron expression; the same text recurs across many orchestrations."""
    try:
        expr = parse_cron(cron)
    except CronError as exc:
        return ((f"invalid cron {cron!r}: {exc}", Severity.ERROR),)
    if not expr.ever_fires():
        return ((f"cron {cron!r} never fires: no month has such a day", Severity.ERROR),)
    gap = expr.min_gap_minutes()
    if gap < MIN_SCHEDULE_GAP_MINUTES:
        message = f"schedule fires every {gap} minute(s), more often than every {MIN_SCHEDULE_GAP_MINUTES} minutes"
        return ((message, Severity.WARNING),)
    return ()


def _email_problem(doc: Document, path: JsonPath, email: str | None) -> Iterator[Diagnostic]:
    if email is not None and not EMAIL.fullmatch(email):
        yield diagnostic(doc, path, f"{email!r} is not an email address")


def notification_problems(doc: Document, notifications: list[Any], path: JsonPath) -> Iterator[Diagnostic]:
    for i, notification in enumerate(notifications):
        yield from _email_problem(doc, (*path, i, "email"), notification.get("email"))
        webhook = notification.get("webhook")
        if not isinstance(webhook, str):
            continue  # `{fromEnv}`: checked when sent
        problem = _url_problem(webhook)
        if problem:
            yield diagnostic(doc, (*path, i, "webhook"), problem)
        elif _carries_secret(webhook):
            yield diagnostic(doc, (*path, i, "webhook"), LITERAL_WEBHOOK, severity=Severity.WARNING)


def project_problems(doc: Document) -> Iterator[Diagnostic]:
    spec = doc.data.get("spec") or {}
    yield from _email_problem(doc, ("spec", "smtp", "from"), _get(spec, ("smtp", "from")))
    yield from notification_problems(doc, spec.get("notifications", []), ("spec", "notifications"))


def check_repository(result: Validation) -> None:
    """Cross-file checks; an orchestration whose references do not hold is dropped from the valid set."""
    valid_files = {result.files[f"Configuration/{ref}"] for ref in result.configurations}
    invalid_configs = {
        file.split("/", 1)[1].rsplit(".", 1)[0]
        for file in result.checked_files
        if file.startswith("configurations/") and file not in valid_files
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
    result.diagnostics.extend(trigger_cycles(result))


def _trigger_edges(result: Validation) -> dict[str, list[tuple[str, str]]]:
    """orchestration -> [(table, orchestration)]: the triggers that tables it outputs feed, those of its
    enabled tasks only (a disabled task writes nothing); one table per pair, in a fixed order."""
    waiting: dict[str, list[str]] = {}
    for name, o in result.orchestrations.items():
        for table in o.trigger.tables if o.trigger else ():
            waiting.setdefault(table, []).append(name)
    edges: dict[str, list[tuple[str, str]]] = {}
    if not waiting:
        return edges
    feeding = {ref: [t for t in c.outputs if t in waiting] for ref, c in result.configurations.items()}
    for name, o in sorted(result.orchestrations.items()):
        outputs = {table for t in o.tasks() if t.enabled for table in feeding[t.config]}
        seen: set[str] = set()
        for table in sorted(outputs):
            for other in sorted(waiting[table]):
                if other not in seen:
                    seen.add(other)
                    edges.setdefault(name, []).append((table, other))
    return edges


def _shortest_cycle(edges: dict[str, list[tuple[str, str]]], start: str) -> list[tuple[str, str]] | None:
    """The fewest (table, orchestration) steps from `start` back to itself, or None."""
    came: dict[str, tuple[str, str]] = {}  # orchestration -> (table, the one before it)
    frontier = [start]
    while frontier:
        following = []
        for here in frontier:
            for table, there in edges.get(here, ()):
                if there == start:
                    return _path_back(came, start, here, table)
                if there not in came:
                    came[there] = (table, here)
                    following.append(there)
        frontier = following
    return None


def _path_back(came: dict[str, tuple[str, str]], start: str, last: str, table: str) -> list[tuple[str, str]]:
    steps = [(table, start)]
    while last != start:
        table, before = came[last]
        steps.append((table, last))
        last = before
    return steps[::-1]


def trigger_cycles(result: Validation) -> Iterator[Diagnostic]:
    """A warning for each orchestration whose runs, through the tables they output, trigger it again
    (itself, or others that trigger it back), at its trigger table that closes the shortest such cycle."""
    edges = _trigger_edges(result)
    # Only an orchestration that feeds a trigger and has one fed can be on a cycle: skip the rest.
    fed = {there for steps in edges.values() for _, there in steps}
    for name in sorted(edges.keys() & fed):
        steps = _shortest_cycle(edges, name)
        if steps is None:
            continue
        trigger = result.orchestrations[name].trigger
        assert trigger is not None
        doc = result.documents[result.files[f"Orchestration/{name}"]]
        names = " -> ".join([name, *(there for _, there in steps)])
        via = ", ".join(table for table, _ in steps)
        path = ("spec", "trigger", "tables", trigger.tables.index(steps[-1][0]))
        yield diagnostic(doc, path, f"trigger cycle: {names} (via {via})", severity=Severity.WARNING)


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
