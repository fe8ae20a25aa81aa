"""`orchrecon plan`: what each orchestration will run and when."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from orchrecon.commands import Subparsers
from orchrecon.durations import format_duration
from orchrecon.model import Orchestration
from orchrecon.repository import find_root, validate_tree


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("plan", parents=[common], help="show each orchestration's phases, tasks and schedules")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=lambda a: run(repo=a.repo, fmt=a.format, out=sys.stdout, err=sys.stderr))


def run(*, repo: Path, fmt: str, out: TextIO, err: TextIO) -> int:
    result = validate_tree(find_root(repo))
    plans = [_plan(o) for o in sorted(result.orchestrations.values(), key=lambda o: o.name)]
    if fmt == "json":
        out.write(json.dumps({"orchestrations": plans, "valid": result.valid}, indent=2) + "\n")
    else:
        out.write("\n".join(_text(p) for p in plans))
    for d in result.errors:
        err.write(f"{d.render()}\n")
    return 0 if result.valid else 1


def _plan(o: Orchestration) -> dict[str, Any]:
    return {
        "name": o.name,
        "description": o.description,
        "suspend": o.suspend,
        "phases": [
            {
                "name": phase.name,
                "tasks": [
                    {
                        "name": t.name,
                        "config": t.config,
                        "enabled": t.enabled,
                        "continueOnFailure": t.continue_on_failure,
                    }
                    for t in phase.tasks
                ],
            }
            for phase in o.phases
        ],
        "schedules": [{"cron": s.cron, "timezone": s.timezone, "catchUp": s.catch_up.value} for s in o.schedules],
        "trigger": {"tables": list(o.trigger.tables), "cooldown": format_duration(o.trigger.cooldown)}
        if o.trigger
        else None,
    }


def _text(plan: dict[str, Any]) -> str:
    lines = [f"{plan['name']}" + (f": {plan['description']}" if plan["description"] else "")]
    if plan["suspend"]:
        lines.append("  suspended: schedules and triggers are off")
    for s in plan["schedules"]:
        lines.append(f"  schedule  {s['cron']} ({s['timezone']}, catch-up {s['catchUp']})")
    if plan["trigger"]:
        t = plan["trigger"]
        lines.append(f"  trigger   when {', '.join(t['tables'])} all updated, cool-down {t['cooldown']}")
    for i, phase in enumerate(plan["phases"], start=1):
        lines.append(f"  phase {i}: {phase['name']}")
        width = max(len(t["name"]) for t in phase["tasks"])
        for t in phase["tasks"]:
            notes = [
                n
                for n, on in (
                    ("disabled", not t["enabled"]),
                    ("continues on failure", t["continueOnFailure"]),
                )
                if on
            ]
            suffix = f"  ({', '.join(notes)})" if notes else ""
            lines.append(f"    - {t['name']:<{width}}  {t['config']}{suffix}")
    return "\n".join(lines) + "\n"
