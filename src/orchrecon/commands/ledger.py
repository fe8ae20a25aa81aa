"""`orchrecon ledger verify|repair|import|export`: find damaged ledger lines and move them aside, losing nothing;
move the ledger between the state directory and a PostgreSQL state database."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from orchrecon.app import LedgerAccess, open_ledger
from orchrecon.commands import Subparsers
from orchrecon.commands.db import state_database
from orchrecon.documents.layout import find_root
from orchrecon.errors import OrchreconError
from orchrecon.store import state as state_dirs
from orchrecon.store.locks import reconciler_lock
from orchrecon.store.records import Damage, segment_name
from orchrecon.store.repair import repair, scan


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("ledger", parents=[common])
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", parents=[common], help="check every ledger line; exit 1 if any is damaged")
    verify.add_argument("--format", choices=["text", "json"], default="text")
    verify.set_defaults(
        handler=lambda a: run_verify(
            repo=a.repo, state_dir=a.state_dir, fmt=a.format, out=sys.stdout, environ=os.environ
        )
    )
    fix = actions.add_parser("repair", parents=[common], help="move damaged lines into ledger/damaged/ and record it")
    fix.set_defaults(
        handler=lambda a: run_repair(repo=a.repo, state_dir=a.state_dir, out=sys.stdout, environ=os.environ)
    )
    for name, help_ in (
        ("import", "load the state directory's ledger into an empty PostgreSQL state database"),
        ("export", "write the PostgreSQL state database's ledger as the state directory's"),
    ):
        move = actions.add_parser(name, parents=[common], help=help_)  # its --state: the database (common's)
        move.set_defaults(
            handler=lambda a: run_transfer(
                action=a.action,
                repo=a.repo,
                state_dir=a.state_dir,
                state=a.state_url,
                out=sys.stdout,
                environ=os.environ,
            )
        )


def run_verify(*, repo: Path, state_dir: Path | None, fmt: str, out: TextIO, environ: Mapping[str, str]) -> int:
    """Exit 0 when every line is sound, 1 when any is damaged."""
    access = open_ledger(repo, state_dir, environ=environ)
    found = scan(access.ledger)
    _tell_the_index(access, found.damage)
    if fmt == "json":
        document = {
            "clean": found.clean,
            "records": found.records,
            "segments": found.segments,
            "damaged": [
                {"file": str(access.ledger.directory / segment_name(d.segment)), **d.to_json()} for d in found.damage
            ],
            "tornBytes": found.torn,
        }
        out.write(json.dumps(document, indent=2) + "\n")
        return 0 if found.clean else 1
    for d in found.damage:
        out.write(_line(access, d) + "\n")
    segments = f"{found.segments} segment{'s' if found.segments != 1 else ''}"
    if found.clean:
        out.write(f"clean: {found.records} records in {segments}\n")
    else:
        lines = f"{len(found.damage)} line{'s' if len(found.damage) != 1 else ''}"
        out.write(
            f"damaged: {lines}, {found.records} sound records in {segments}; "
            "'orchrecon ledger repair' moves the damaged lines into ledger/damaged/\n"
        )
    if found.torn:
        out.write(f"torn last line ({found.torn} bytes, a crash mid-append): the next append cuts it off\n")
    return 0 if found.clean else 1


def run_transfer(
    *, action: str, repo: Path, state_dir: Path | None, state: str | None, out: TextIO, environ: Mapping[str, str]
) -> int:
    """Move the ledger between the state directory and the state database; every record keeps its seq and time."""
    database = state_database(state, environ)
    from orchrecon.store.postgresql.transfer import export_ledger, import_ledger  # noqa: PLC0415 - psycopg

    if action == "import":
        access = open_ledger(repo, state_dir, environ=environ)
        lock = reconciler_lock(access.state.locks)  # its appends during the import would be left out
        if not lock.try_acquire():
            raise OrchreconError(f"a reconciler is running on {access.state.root}; stop it before importing its ledger")
        try:
            count = import_ledger(database, access.ledger.directory)
        finally:
            lock.release()
        out.write(f"imported {count} records from {access.ledger.directory} into {database.shown}\n")
        return 0
    directory = (state_dirs.named(state_dir, environ) or state_dirs.default(find_root(repo))).ledger
    count = export_ledger(database, directory)
    out.write(f"exported {count} records from {database.shown} into {directory}\n")
    return 0


def run_repair(*, repo: Path, state_dir: Path | None, out: TextIO, environ: Mapping[str, str]) -> int:
    access = open_ledger(repo, state_dir, environ=environ)
    # The reconciler follows the ledger by byte offsets, which a repair moves: it must not run meanwhile.
    lock = reconciler_lock(access.state.locks)
    if not lock.try_acquire():
        raise OrchreconError(f"a reconciler is running on {access.state.root}; stop it before repairing the ledger")
    try:
        repaired = repair(access.ledger, now=access.clock.now())
    finally:
        lock.release()
    if repaired is None:
        out.write("nothing to repair: every ledger line is sound\n")
        return 0
    access.store.invalidate()  # the lines after each moved one are at new offsets
    for d in repaired.damage:
        out.write(f"moved {_line(access, d)}\n")
    count = len(repaired.damage)
    out.write(
        f"moved {count} damaged line{'s' if count != 1 else ''} into {repaired.data} (positions in "
        f"{repaired.manifest.name}); recorded ledger.repaired, seq {repaired.record['seq']}\n"
    )
    return 0


def _line(access: LedgerAccess, d: Damage) -> str:
    return f"{d.where(access.ledger.directory)}, {d.length} bytes: {d.reason}"


def _tell_the_index(access: LedgerAccess, found: list[Damage]) -> None:
    """Rebuild an index whose record of damage differs from what the whole ledger shows (a line damaged
    after it was indexed), so every command learns of it."""
    access.store.refresh()
    if {(d.segment, d.offset) for d in access.store.damage} != {(d.segment, d.offset) for d in found}:
        access.store.invalidate()
