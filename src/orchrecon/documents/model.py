"""The desired state: frozen spec types built once from validated documents. No run state here."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from orchrecon.documents.durations import parse_duration
from orchrecon.documents.sizes import parse_amount

DEFAULT_MAX_PARALLEL_JOBS = 8
DEFAULT_TIMEOUT = timedelta(hours=6)


class CatchUp(enum.Enum):
    LATEST = "latest"
    NONE = "none"


class Event(enum.Enum):
    FAILED = "failed"
    WARNING = "warning"
    SUCCEEDED = "succeeded"
    PROCESSING_LONG = "processing-long"
    RECOVERED = "recovered"


@dataclass(frozen=True, kw_only=True)
class FromEnv:
    """A secret read from the named environment variable when a task starts."""

    var: str


EnvValue = str | FromEnv


@dataclass(frozen=True, kw_only=True)
class Poll:
    url: str
    interval: timedelta
    status_pointer: str
    success: tuple[str, ...]
    warning: tuple[str, ...]
    error: tuple[str, ...]
    timeout: timedelta | None


@dataclass(frozen=True, kw_only=True)
class HttpCall:
    url: str
    method: str
    headers: Mapping[str, EnvValue]
    body: Any | None  # None: {"parameters": <merged parameters>}
    token_header: str
    timeout: timedelta
    poll: Poll | None


@dataclass(frozen=True, kw_only=True)
class KeboolaJob:
    """A job of a Keboola component configuration, through the Job Queue API at `url`."""

    component: str
    config: str
    config_row_ids: tuple[str, ...]
    mode: str
    branch_id: str | None
    url: str
    token: EnvValue  # the Storage API token; the schema allows only {fromEnv: VAR}
    poll_interval: timedelta
    send_parameters: bool  # the task's merged parameters become the job's configData


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """How a configuration runs: exactly one of `command` (argv), `http` and `keboola`.

    `resources`: what a Dask worker must offer to run the command, name -> amount, sizes already in
    bytes (`4GiB` -> 4294967296); only the dask executor reads it, and it is empty for an http run."""

    command: tuple[str, ...] | None
    http: HttpCall | None
    cwd: str | None
    env: Mapping[str, EnvValue]
    timeout: timedelta
    resources: Mapping[str, float] = field(default_factory=dict)
    keboola: KeboolaJob | None = None

    @property
    def kind(self) -> str:
        """Which executor runs it: `command`, `http` or `keboola`."""
        return "command" if self.command is not None else "http" if self.http is not None else "keboola"


@dataclass(frozen=True, kw_only=True)
class Configuration:
    component: str
    name: str
    description: str
    run: RunSpec
    parameters: Mapping[str, Any]
    outputs: tuple[str, ...]
    inputs: tuple[str, ...] = ()  # tables it reads: lineage only

    @property
    def ref(self) -> str:
        return f"{self.component}/{self.name}"


@dataclass(frozen=True, kw_only=True)
class Task:
    name: str
    config: str  # "component/name"
    enabled: bool = True
    continue_on_failure: bool = False
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Phase:
    name: str
    tasks: tuple[Task, ...]


@dataclass(frozen=True, kw_only=True)
class Schedule:
    cron: str
    timezone: str = "UTC"
    catch_up: CatchUp = CatchUp.LATEST


@dataclass(frozen=True, kw_only=True)
class Trigger:
    tables: tuple[str, ...]
    cooldown: timedelta


@dataclass(frozen=True, kw_only=True)
class Notification:
    events: frozenset[Event]
    email: str | None = None
    webhook: EnvValue | None = None  # a URL is a secret: `{fromEnv}` is resolved when it is sent
    overtime_percent: int = 50


@dataclass(frozen=True, kw_only=True)
class Orchestration:
    name: str
    description: str
    suspend: bool
    phases: tuple[Phase, ...]
    schedules: tuple[Schedule, ...]
    trigger: Trigger | None
    notifications: tuple[Notification, ...]

    def tasks(self) -> list[Task]:
        return [task for phase in self.phases for task in phase.tasks]


@dataclass(frozen=True, kw_only=True)
class Smtp:
    host: str
    port: int
    sender: str
    starttls: bool
    username: EnvValue | None
    password: EnvValue | None


@dataclass(frozen=True, kw_only=True)
class Project:
    max_parallel_jobs: int = DEFAULT_MAX_PARALLEL_JOBS
    smtp: Smtp | None = None
    notifications: tuple[Notification, ...] = ()


# Builders: the input has passed the schema, so shapes are trusted; semantic checks ran on the same data.


def _env_value(value: Any) -> EnvValue:
    return FromEnv(var=value["fromEnv"]) if isinstance(value, dict) else str(value)


def _env_map(value: Mapping[str, Any] | None) -> dict[str, EnvValue]:
    return {k: _env_value(v) for k, v in (value or {}).items()}


def _optional_duration(value: str | None) -> timedelta | None:
    return parse_duration(value) if value is not None else None


def build_notification(data: Mapping[str, Any]) -> Notification:
    return Notification(
        events=frozenset(Event(e) for e in data["events"]),
        email=data.get("email"),
        webhook=_env_value(data["webhook"]) if "webhook" in data else None,
        overtime_percent=int(data.get("overtimePercent", 50)),
    )


def build_project(data: Mapping[str, Any]) -> Project:
    spec = data.get("spec") or {}
    smtp = spec.get("smtp")
    return Project(
        # JSON Schema counts 4.0 as an integer; the model holds a real one.
        max_parallel_jobs=int(spec.get("maxParallelJobs", DEFAULT_MAX_PARALLEL_JOBS)),
        smtp=Smtp(
            host=smtp["host"],
            port=int(smtp.get("port", 25)),
            sender=smtp["from"],
            starttls=smtp.get("starttls", False),
            username=_env_value(smtp["username"]) if "username" in smtp else None,
            password=_env_value(smtp["password"]) if "password" in smtp else None,
        )
        if smtp
        else None,
        notifications=tuple(build_notification(n) for n in spec.get("notifications", ())),
    )


def _build_http(data: Mapping[str, Any]) -> HttpCall:
    poll = data.get("poll")
    return HttpCall(
        url=data["url"],
        method=data.get("method", "POST"),
        headers=_env_map(data.get("headers")),
        body=data.get("body"),
        token_header=data.get("tokenHeader", "Authorization"),
        timeout=parse_duration(data.get("timeout", "30s")),
        poll=Poll(
            url=poll["url"],
            interval=parse_duration(poll.get("interval", "5s")),
            status_pointer=poll["statusPointer"],
            success=tuple(poll["success"]),
            warning=tuple(poll.get("warning", ())),
            error=tuple(poll.get("error", ())),
            timeout=_optional_duration(poll.get("timeout")),
        )
        if poll
        else None,
    )


KEBOOLA_QUEUE_URL = "https://queue.keboola.com"


def _build_keboola(data: Mapping[str, Any]) -> KeboolaJob:
    branch = data.get("branchId")
    return KeboolaJob(
        component=data["component"],
        config=str(data["config"]),
        config_row_ids=tuple(str(r) for r in data.get("configRowIds", ())),
        mode=data.get("mode", "run"),
        branch_id=str(branch) if branch is not None else None,
        url=data.get("url", KEBOOLA_QUEUE_URL),
        token=_env_value(data["token"]),
        poll_interval=parse_duration(data.get("pollInterval", "5s")),
        send_parameters=bool(data.get("sendParameters", False)),
    )


def build_configuration(data: Mapping[str, Any]) -> Configuration:
    meta, spec = data["metadata"], data["spec"]
    run = spec["run"]
    return Configuration(
        component=meta["component"],
        name=meta["name"],
        description=meta.get("description", ""),
        run=RunSpec(
            command=tuple(run["command"]) if "command" in run else None,
            http=_build_http(run["http"]) if "http" in run else None,
            cwd=run.get("cwd"),
            env=_env_map(run.get("env")),
            timeout=parse_duration(run["timeout"]) if "timeout" in run else DEFAULT_TIMEOUT,
            resources={name: parse_amount(amount) for name, amount in run.get("resources", {}).items()},
            keboola=_build_keboola(run["keboola"]) if "keboola" in run else None,
        ),
        parameters=spec.get("parameters", {}),
        outputs=tuple(spec.get("outputs", ())),
        inputs=tuple(spec.get("inputs", ())),
    )


def build_orchestration(data: Mapping[str, Any]) -> Orchestration:
    meta, spec = data["metadata"], data["spec"]
    trigger = spec.get("trigger")
    return Orchestration(
        name=meta["name"],
        description=meta.get("description", ""),
        suspend=spec.get("suspend", False),
        phases=tuple(
            Phase(
                name=phase["name"],
                tasks=tuple(
                    Task(
                        name=task["name"],
                        config=task["config"],
                        enabled=task.get("enabled", True),
                        continue_on_failure=task.get("continueOnFailure", False),
                        parameters=task.get("parameters", {}),
                    )
                    for task in phase["tasks"]
                ),
            )
            for phase in spec["phases"]
        ),
        schedules=tuple(
            Schedule(
                cron=s["cron"],
                timezone=s.get("timezone", "UTC"),
                catch_up=CatchUp(s.get("catchUp", "latest")),
            )
            for s in spec.get("schedules", ())
        ),
        trigger=Trigger(tables=tuple(trigger["tables"]), cooldown=parse_duration(trigger["cooldown"]))
        if trigger
        else None,
        notifications=tuple(build_notification(n) for n in spec.get("notifications", ())),
    )


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` merged into `base`: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
