"""A repository whose orchestration `daily` runs the probe job (tests/execution/builders.py) and notifies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.execution.builders import Task, Workspace

SMTP_PASSWORD = "hunter2-smtp-secret"  # a test secret that must never be recorded
HOOK_ENV = "ORCHRECON_TEST_HOOK"


def project(ws: Workspace, smtp_port: int | None, notifications: Sequence[Mapping[str, Any]] = ()) -> None:
    spec: dict[str, Any] = {"maxParallelJobs": 4}
    if smtp_port is not None:
        spec["smtp"] = {
            "host": "127.0.0.1",
            "port": smtp_port,
            "from": "orchrecon@example.com",
            "username": "orchrecon",
            "password": {"fromEnv": "ORCHRECON_TEST_SMTP_PASSWORD"},
        }
    if notifications:
        spec["notifications"] = list(notifications)
    ws.write("orchrecon.yaml", {"apiVersion": "orchrecon/v1", "kind": "Project", "spec": spec})


def orchestration(
    ws: Workspace,
    tasks: Sequence[Task],
    notifications: Sequence[Mapping[str, Any]] = (),
    *,
    name: str = "daily",
    trigger: Sequence[str] = (),
) -> None:
    """Orchestration `name` with one phase `main`; a trigger on `trigger`'s tables if given."""
    ws.orchestrate(name, {"main": tasks})
    spec: dict[str, Any] = {"phases": [{"name": "main", "tasks": list(tasks)}]}
    if notifications:
        spec["notifications"] = list(notifications)
    if trigger:
        spec["trigger"] = {"tables": list(trigger), "cooldown": "1m"}
    ws.write(
        f"orchestrations/{name}.yaml",
        {"apiVersion": "orchrecon/v1", "kind": "Orchestration", "metadata": {"name": name}, "spec": spec},
    )


def environ(hook_url: str = "") -> dict[str, str]:
    """The secrets the notifications read: the SMTP password and the webhook's URL."""
    return {"ORCHRECON_TEST_SMTP_PASSWORD": SMTP_PASSWORD, HOOK_ENV: hook_url}


def notifications_of(ws: Workspace, run_id: str | None = None) -> list[dict[str, Any]]:
    """The notification records of the ledger (of one run)."""
    return [r for r in ws.ledger() if r["type"].startswith("notification.") and run_id in (None, r.get("run"))]


def secrets_absent(state: Path, *secrets: str) -> list[str]:
    """The files under the state directory that hold any of `secrets` (none, if all is well)."""
    found = []
    for path in sorted(p for p in state.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(s.encode() in data for s in secrets):
            found.append(str(path.relative_to(state)))
    return found
