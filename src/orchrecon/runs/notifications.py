"""Who hears of a run, about what, and what they read. Pure: the shell (`orchrecon.notify`) delivers.

As in Keboola, a run started by a person (`by` is their email: `run --as`, `run` with git's user.email,
a retry, an API token with an email) notifies only that person, by email, when it goes wrong or runs
long (`failed`, `warning`, `processing-long`), whatever the settings: they hear of their own run, not of
each success. Other runs (scheduled, triggered, `by` None) notify the configured recipients: the
orchestration's `notifications`, else the project's defaults.

Each delivery has a dedupe key, `<run>/<event>/<channel>/<recipient>`, claimed in the ledger before it is
sent, so no process ever sends it twice. A webhook's part of the key is its place in the notification
list, never its URL (which may be a secret).
"""

from __future__ import annotations

import enum
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from orchrecon.clock import parse_time
from orchrecon.documents.model import EnvValue, Event, FromEnv, Notification, Orchestration, Project
from orchrecon.runs.state import RunStatus, RunView, StepStatus

HISTORY = 20  # successful runs whose average duration `processing-long` compares with
DEFAULT_OVERTIME_PERCENT = 50
ERROR_EXCERPT = 300  # characters of a task's error in a message
PERSONAL_EVENTS = frozenset({Event.FAILED, Event.WARNING, Event.PROCESSING_LONG})
_FAILURES = (RunStatus.ERROR, RunStatus.TERMINATED)


class Channel(enum.Enum):
    EMAIL = "email"
    WEBHOOK = "webhook"


@dataclass(frozen=True, kw_only=True)
class PastRun:
    """What the decisions need of an earlier run of the same orchestration."""

    seq: int  # of its request: the order of runs
    status: RunStatus
    started_at: str | None
    finished_at: str | None


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One message to one recipient about one event of one run."""

    event: Event
    channel: Channel
    target: EnvValue  # the address, or the webhook's URL or `{fromEnv}`: resolved and shown by the shell
    key: str
    overtime_percent: int = DEFAULT_OVERTIME_PERCENT  # for processing-long

    @property
    def recipient(self) -> str:
        """What a record may say of the recipient: the address, or a webhook's scheme and host only."""
        return shown_recipient(self.channel, self.target)


def shown_recipient(channel: Channel, target: EnvValue) -> str:
    if channel is Channel.EMAIL:
        return str(target)
    if isinstance(target, FromEnv):
        return f"fromEnv {target.var}"
    return webhook_origin(target)


def webhook_origin(url: str) -> str:
    """`scheme://host[:port]` of a URL: its path and query (Slack's secret, say) are never shown."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if _port(parts) is not None else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def _port(parts: urllib.parse.SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def effective(orchestration: Orchestration, project: Project) -> tuple[Notification, ...]:
    """The orchestration's notifications, else the project's defaults."""
    return orchestration.notifications or project.notifications


def end_events(run: RunView, previous: Sequence[PastRun]) -> list[Event]:
    """The events a finished run ends with. `recovered`: a success whose latest earlier run that ended
    success, error or terminated ended error or terminated (warnings and cancelled runs are passed over),
    so it is sent once, on the transition."""
    if run.status is RunStatus.SUCCESS:
        events = [Event.SUCCEEDED]
        earlier = sorted(
            (p for p in previous if p.seq < run.requested_seq and p.status in (RunStatus.SUCCESS, *_FAILURES)),
            key=lambda p: p.seq,
        )
        if earlier and earlier[-1].status in _FAILURES:
            events.append(Event.RECOVERED)
        return events
    if run.status is RunStatus.WARNING:
        return [Event.WARNING]
    if run.status in _FAILURES:
        return [Event.FAILED]
    return []  # cancelled before it started, or not finished


def deliveries(run: RunView, events: Sequence[Event], notifications: Sequence[Notification]) -> list[Delivery]:
    """Who is told of `events` of `run`, and by which channel (see the module's docstring)."""
    if run.by:
        percent = _personal_overtime(notifications)
        return [
            Delivery(
                event=e,
                channel=Channel.EMAIL,
                target=run.by,
                key=dedupe_key(run.id, e, Channel.EMAIL, run.by),
                overtime_percent=percent,
            )
            for e in events
            if e in PERSONAL_EVENTS
        ]
    found: list[Delivery] = []
    for event in events:
        for index, n in enumerate(notifications):
            if event not in n.events:
                continue
            target: EnvValue
            if n.email is not None:
                channel, target, slot = Channel.EMAIL, n.email, n.email
            elif n.webhook is not None:
                channel, target, slot = Channel.WEBHOOK, n.webhook, str(index)
            else:
                continue
            delivery = Delivery(
                event=event,
                channel=channel,
                target=target,
                key=dedupe_key(run.id, event, channel, slot),
                overtime_percent=n.overtime_percent,
            )
            if delivery.key not in {d.key for d in found}:  # the same address listed twice hears once
                found.append(delivery)
    return found


def _personal_overtime(notifications: Sequence[Notification]) -> int:
    """A person's processing-long threshold: the tightest one configured for it, else the default."""
    percents = [n.overtime_percent for n in notifications if Event.PROCESSING_LONG in n.events]
    return min(percents, default=DEFAULT_OVERTIME_PERCENT)


def dedupe_key(run_id: str, event: Event, channel: Channel, slot: str) -> str:
    return f"{run_id}/{event.value}/{channel.value}/{slot}"


def average_duration(previous: Sequence[PastRun], before_seq: int) -> timedelta | None:
    """The average duration of the last `HISTORY` successful runs requested before `before_seq`; None
    without any."""
    done = sorted(
        (
            p
            for p in previous
            if p.seq < before_seq and p.status is RunStatus.SUCCESS and p.started_at and p.finished_at
        ),
        key=lambda p: p.seq,
    )[-HISTORY:]
    if not done:
        return None
    total = sum((parse_time(p.finished_at or "") - parse_time(p.started_at or "") for p in done), timedelta())
    return total / len(done)


def overtime(average: timedelta, percent: int) -> timedelta:
    """How long a run processes before it is `processing-long`: the average plus `percent` of it."""
    return average * (1 + percent / 100)


# -- what they read ----------------------------------------------------------------------------------

_PHRASES = {
    Event.FAILED: "failed",
    Event.WARNING: "ended with a warning",
    Event.SUCCEEDED: "succeeded",
    Event.RECOVERED: "recovered",
    Event.PROCESSING_LONG: "is processing longer than usual",
}


def subject(run: RunView, event: Event) -> str:
    """`[orchrecon] daily-sales failed`."""
    return f"[orchrecon] {run.orchestration} {_PHRASES[event]}"


def started_how(run: RunView) -> str:
    """`scheduled`, `triggered by table updates`, `manual, by ana@example.com`, `retry of <id>, by …`."""
    how = {"schedule": "scheduled", "trigger": "triggered by table updates", "manual": "manual", "api": "over the API"}
    text = f"retry of {run.retry_of}" if run.trigger == "retry" and run.retry_of else how.get(run.trigger, run.trigger)
    return f"{text}, by {run.by}" if run.by else text


def failed_tasks(run: RunView) -> list[dict[str, str | None]]:
    """Each task that ended error or terminated, with an excerpt of its error."""
    bad = (StepStatus.ERROR, StepStatus.TERMINATED)
    return [
        {"phase": p.name, "task": t.name, "error": _excerpt(t.error or t.status.value)}
        for p in run.phases
        for t in p.tasks
        if t.status in bad
    ]


def _excerpt(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= ERROR_EXCERPT else one[: ERROR_EXCERPT - 1] + "…"


def text_line(run: RunView, event: Event, average: timedelta | None = None) -> str:
    """One plain line, which Slack and Teams incoming webhooks show as it is."""
    line = f"orchrecon: {run.orchestration} {_PHRASES[event]} (run {run.id}, {started_how(run)})"
    if event is Event.PROCESSING_LONG and average is not None:
        line += f": successful runs took {_duration(average)} on average"
    failed = failed_tasks(run)
    if failed:
        first = failed[0]
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        line += f": task {first['phase']}/{first['task']}: {first['error']}{more}"
    return line


def _duration(value: timedelta) -> str:
    seconds = round(value.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def email_body(run: RunView, event: Event, average: timedelta | None = None) -> str:
    """A short plain-text body with the facts of the webhook's JSON."""
    lines = [
        text_line(run, event, average),
        "",
        f"Orchestration: {run.orchestration}",
        f"Run:           {run.id}",
        f"Status:        {run.status.value}",
        f"Started how:   {started_how(run)}",
        f"Requested:     {run.requested_at}",
        f"Started:       {run.started_at or '-'}",
        f"Finished:      {run.finished_at or '-'}",
        f"Revision:      {run.revision or '-'}{' (dirty working tree)' if run.dirty else ''}",
    ]
    failed = failed_tasks(run)
    if failed:
        lines += ["", "Failed tasks:"]
        lines += [f"  {t['phase']}/{t['task']}: {t['error']}" for t in failed]
    lines += ["", f"Details: orchrecon show {run.id}", ""]
    return "\n".join(lines)


def webhook_body(run: RunView, event: Event, average: timedelta | None = None) -> dict[str, Any]:
    """The JSON a webhook receives."""
    body: Mapping[str, Any] = {
        "event": event.value,
        "run": run.id,
        "orchestration": run.orchestration,
        "status": run.status.value,
        "trigger": run.trigger,
        "by": run.by,
        "retryOf": run.retry_of,
        "requestedAt": run.requested_at,
        "startedAt": run.started_at,
        "finishedAt": run.finished_at,
        "failedTasks": failed_tasks(run),
        "revision": run.revision,
        "text": text_line(run, event, average),
    }
    if event is Event.PROCESSING_LONG and average is not None:
        body = {**body, "averageSeconds": round(average.total_seconds(), 3)}
    return dict(body)
