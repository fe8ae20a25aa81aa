"""`orchrecon schema [--kind KIND]`: the installed JSON Schema, whole or as a standalone schema of one kind."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from orchrecon.commands import Subparsers
from orchrecon.documents.schema import load_schema, schema_path

KINDS = ("Project", "Configuration", "Orchestration")


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("schema")
    p.add_argument("--kind", choices=KINDS, help="only this kind, as a standalone schema")
    p.set_defaults(handler=lambda a: run(kind=a.kind, out=sys.stdout))


def kind_schema(kind: str) -> dict[str, Any]:
    """The schema of one kind on its own: its definition at the top, every definition it may refer
    to (`#/$defs/…`) kept beside it."""
    whole = load_schema()
    return {
        "$schema": whole["$schema"],
        "$id": f"{whole['$id']}:{kind.lower()}",
        "title": f"orchrecon {kind}",
        **whole["$defs"][kind.lower()],
        "$defs": whole["$defs"],
    }


def run(*, kind: str | None, out: TextIO) -> int:
    if kind is None:
        out.write(schema_path().read_text(encoding="utf-8"))  # the installed file, byte for byte
    else:
        out.write(json.dumps(kind_schema(kind), indent=2, ensure_ascii=False) + "\n")
    return 0
