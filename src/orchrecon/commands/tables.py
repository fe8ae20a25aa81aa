"""`orchrecon tables touch|list`: report table updates and see which orchestrations they trigger."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from orchrecon.api.names import TABLE_ID
from orchrecon.app import open_app
from orchrecon.commands import Subparsers
from orchrecon.errors import UsageError
from orchrecon.gitsource import user_email


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("tables", parents=[common])
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    touch = actions.add_parser("touch", parents=[common], help="record that tables were updated")
    touch.add_argument("tables", nargs="+", metavar="TABLE")
    touch.add_argument("--format", choices=["text", "json"], default="text")
    touch.set_defaults(
        handler=lambda a: run_touch(
            repo=a.repo, state_dir=a.state_dir, tables=a.tables, fmt=a.format, out=sys.stdout, environ=os.environ
        )
    )
    listing = actions.add_parser("list", parents=[common], help="every known table, its last update, its triggers")
    listing.add_argument("--format", choices=["text", "json"], default="text")
    listing.set_defaults(
        handler=lambda a: run_list(
            repo=a.repo, state_dir=a.state_dir, fmt=a.format, out=sys.stdout, err=sys.stderr, environ=os.environ
        )
    )


def run_touch(
    *, repo: Path, state_dir: Path | None, tables: Sequence[str], fmt: str, out: TextIO, environ: Mapping[str, str]
) -> int:
    bad = [t for t in tables if not TABLE_ID.fullmatch(t)]
    if bad:
        raise UsageError(f"{bad[0]!r} is not a table id (letters, digits, '_', '.', '-'; up to 200 characters)")
    app = open_app(repo, state_dir, environ=environ)
    by = user_email(app.repo)
    # Only recorded here: whether a trigger fires is decided by the reconciler, the single evaluator.
    records = app.ledger.append(
        [
            {"type": "table.updated", "table": t, "source": f"tables touch by {by}" if by else "tables touch"}
            for t in tables
        ]
    )
    app.ledger.sync()
    if fmt == "json":
        out.write(json.dumps({"updated": [{"table": r["table"], "time": r["time"]} for r in records]}, indent=2) + "\n")
    else:
        for r in records:
            out.write(f"{r['table']} updated at {r['time']}\n")
    return 0


def run_list(
    *, repo: Path, state_dir: Path | None, fmt: str, out: TextIO, err: TextIO, environ: Mapping[str, str]
) -> int:
    from orchrecon.commands import _definitions as definitions  # noqa: PLC0415 - touch needs no documents

    app = open_app(repo, state_dir, environ=environ, read_only=True)
    updates = app.store.table_updates()
    found = definitions.load(app)
    if found.note():
        err.write(f"orchrecon: {found.note()}\n")
    writers: dict[str, list[str]] = {}
    for config in found.configurations.values():
        for table in config.outputs:
            writers.setdefault(table, []).append(config.ref)
    triggers: dict[str, list[str]] = {}
    for o in found.orchestrations.values():
        for table in o.trigger.tables if o.trigger else ():
            triggers.setdefault(table, []).append(o.name)
    names = sorted({*updates, *writers, *triggers})
    if fmt == "json":
        rows = [
            {
                "table": name,
                "lastUpdate": updates[name][0] if name in updates else None,
                "source": updates[name][1] if name in updates else None,
                "writtenBy": sorted(writers.get(name, [])),
                "triggers": sorted(triggers.get(name, [])),
            }
            for name in names
        ]
        out.write(json.dumps({"tables": rows}, indent=2) + "\n")
        return 0
    grid = [("TABLE", "LAST UPDATE", "WRITTEN BY", "TRIGGERS")]
    grid += [
        (
            name,
            updates[name][0] if name in updates else "never",
            ", ".join(sorted(writers.get(name, []))) or "-",
            ", ".join(sorted(triggers.get(name, []))) or "-",
        )
        for name in names
    ]
    widths = [max(len(row[i]) for row in grid) for i in range(4)]
    for row in grid:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")
    return 0
