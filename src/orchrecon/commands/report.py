"""`orchrecon report`: rebuild every status file and report from the ledger alone."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from orchrecon.app import open_app
from orchrecon.commands import Subparsers
from orchrecon.reconcile.publish import publish_all


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("report", parents=[common])
    p.set_defaults(handler=lambda a: run(repo=a.repo, state_dir=a.state_dir, out=sys.stdout, environ=os.environ))


def run(*, repo: Path, state_dir: Path | None, out: TextIO, environ: Mapping[str, str]) -> int:
    app = open_app(repo, state_dir, environ=environ)
    count = publish_all(app)
    out.write(f"wrote {count} report{'' if count == 1 else 's'} and the index in {app.state.reports}\n")
    return 0
