"""Where an orchestration repository is and which of its files are documents: what every command needs first,
without importing the parser or the schema."""

from __future__ import annotations

import os
from pathlib import Path

from orchrecon.errors import NotFoundError, UsageError

PROJECT_FILES = ("orchrecon.yaml", "orchrecon.yml")
DOCUMENT_FOLDERS = ("configurations", "orchestrations")


def is_repository(path: Path) -> bool:
    return any((path / name).exists() for name in (*PROJECT_FILES, *DOCUMENT_FOLDERS))


def find_root(start: Path) -> Path:
    """The repository holding `start`: it or its nearest parent with orchrecon.yaml, configurations/ or
    orchestrations/ (as git finds its top level). Raises UsageError when there is none."""
    if not start.exists():
        raise NotFoundError(f"no such folder: {start}")
    here = start.absolute()
    for candidate in (here, *here.parents) if here.is_dir() else here.parents:
        if is_repository(candidate):
            return candidate if start.is_absolute() else Path(os.path.relpath(candidate))
    raise UsageError(
        f"{start} is not in an orchrecon repository: expected orchrecon.yaml, configurations/ or orchestrations/"
    )
