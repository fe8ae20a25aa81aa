"""`orchrecon init [DIR]`: a repository a team can start from, which validates and runs as written.

The files come from the package's `template/` folder (dot-files are stored without their dot, so
packaging never drops them), plus a copy of the installed schema, which the documents'
`# yaml-language-server: $schema=` lines and `check-jsonschema --schemafile` point at.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TextIO

from orchrecon import __version__, gitsource
from orchrecon.commands import Subparsers
from orchrecon.documents.schema import SCHEMA_NAME, schema_path
from orchrecon.errors import OrchreconError, UsageError

SCHEMA_FILE = f"schema/{SCHEMA_NAME}"
_DOTTED = {"gitignore": ".gitignore", "pre-commit-config.yaml": ".pre-commit-config.yaml", "github": ".github"}


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("init")
    p.add_argument("directory", nargs="?", default=".", metavar="DIR", help="where (default: the current folder)")
    p.add_argument("--force", action="store_true", help="overwrite files of the same names")
    p.set_defaults(handler=lambda a: run(directory=Path(a.directory), force=a.force, out=sys.stdout))


def files() -> dict[str, bytes]:
    """What init writes: repository-relative path -> content."""
    written = {SCHEMA_FILE: schema_path().read_bytes()}
    _collect(resources.files("orchrecon") / "template", "", written)
    return written


def _collect(folder: Traversable, prefix: str, into: dict[str, bytes]) -> None:
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        name = prefix + (_DOTTED.get(entry.name, entry.name) if not prefix else entry.name)
        if entry.is_dir():
            _collect(entry, name + "/", into)
        else:
            into[name] = entry.read_bytes().replace(b"@VERSION@", __version__.encode())


def run(*, directory: Path, force: bool, out: TextIO) -> int:
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file, not a folder")
    wanted = files()
    existing = sorted(rel for rel in wanted if (directory / rel).exists() or (directory / rel).is_symlink())
    if existing and not force:
        more = f" (and {len(existing) - 1} more files init writes)" if len(existing) > 1 else ""
        them = "them" if more else "it"
        raise OrchreconError(f"{directory / existing[0]} already exists{more}; --force overwrites {them}")
    try:
        for rel, content in wanted.items():
            path = directory / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)  # a symbolic link is replaced, never written through
            path.write_bytes(content)
    except OSError as exc:
        raise OrchreconError(f"cannot write {exc.filename}: {exc.strerror}") from None
    out.write(f"created an orchrecon repository in {directory}:\n")
    out.writelines(f"  {rel}\n" for rel in sorted(wanted))
    if gitsource.git_output(directory, "rev-parse", "--is-inside-work-tree") != "true":
        if gitsource.git_output(directory, "init", "-q") is None:
            out.write("git init failed: make it a git repository yourself\n")
        else:
            out.write("initialized a git repository (git init)\n")
    where = "" if directory == Path() else f" -C {directory}"
    out.write(f"next: orchrecon{where} validate && orchrecon{where} run hello\n")
    return 0
