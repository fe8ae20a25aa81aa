"""`orchrecon import keboola PATH [--into DIR]`: a Keboola project pulled with `kbc pull`, as orchrecon documents.

The conversion is `bridges.keboola` (pure); this reads the project's JSON files and writes the documents, each
only when its content changed, so a second import of the same project touches nothing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from orchrecon.bridges.keboola import MANIFEST, TOKEN_VARIABLE, convert
from orchrecon.commands import Subparsers
from orchrecon.documents.layout import find_root
from orchrecon.errors import OrchreconError, UsageError

MAX_FILE_BYTES = 16 * 1024 * 1024  # a kbc project's JSON file is kilobytes; more is not one


def add_parser(subparsers: Subparsers, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("import")
    sources = p.add_subparsers(dest="source", required=True, metavar="SOURCE")
    k = sources.add_parser(
        "keboola", parents=[common], help="a Keboola project pulled with `kbc pull`: orchestrations, schedules, jobs"
    )
    k.add_argument("path", type=Path, metavar="PATH", help="the project's folder (the one holding .keboola/)")
    k.add_argument("--into", type=Path, metavar="DIR", help="where to write (default: this repository's root)")
    k.set_defaults(handler=lambda a: run(path=a.path, into=a.into, repo=a.repo, out=sys.stdout))


def run(*, path: Path, into: Path | None, repo: Path, out: TextIO) -> int:
    if not (path / MANIFEST).is_file():
        raise UsageError(f"{path} is not a kbc project: no {MANIFEST} in it (pull the project with `kbc pull`)")
    documents = convert(_read(path))
    target = into if into is not None else _root(repo)
    written = []
    for rel, text in documents.items():
        file = target / rel
        content = text.encode()
        try:
            if file.is_file() and file.read_bytes() == content:
                continue
            file.parent.mkdir(parents=True, exist_ok=True)
            temporary = file.with_name(f".{file.name}.importing")
            temporary.write_bytes(content)
            temporary.replace(file)  # a reader sees the old document or the new one, never half
        except OSError as exc:
            raise OrchreconError(f"cannot write {exc.filename or file}: {exc.strerror}") from None
        written.append(rel)
    counts = f"{len(written)} written, {len(documents) - len(written)} unchanged"
    out.write(f"imported {len(documents)} documents from {path} into {target}: {counts}\n")
    out.writelines(f"  {rel}\n" for rel in written)
    out.write(
        f"next: set {TOKEN_VARIABLE} (a Storage API token) where orchrecon runs, then orchrecon -C {target} validate\n"
    )
    return 0


def _root(repo: Path) -> Path:
    try:
        return find_root(repo)
    except UsageError:  # no repository yet: this folder becomes one
        return repo


def _read(path: Path) -> dict[str, bytes]:
    """The project's JSON files, by path from its folder (symbolic links and special files passed over)."""
    files: dict[str, bytes] = {}
    for file in sorted(path.rglob("*.json")):
        rel = file.relative_to(path).as_posix()
        if ".git" in rel.split("/") or file.is_symlink() or not file.is_file():
            continue
        try:
            if file.stat().st_size > MAX_FILE_BYTES:
                raise OrchreconError(f"{rel}: over {MAX_FILE_BYTES // (1024 * 1024)} MiB: not a kbc project file")
            files[rel] = file.read_bytes()
        except OSError as exc:
            raise OrchreconError(f"cannot read {file}: {exc.strerror}") from None
    return files
