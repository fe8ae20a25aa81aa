"""Reading an orchestration repository's documents from a working tree (the filesystem shell)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from orchrecon.documents.layout import DOCUMENT_FOLDERS, PROJECT_FILES
from orchrecon.documents.loader import MAX_FILE_BYTES
from orchrecon.documents.result import Validation
from orchrecon.documents.validation import expected_kind, validate_files
from orchrecon.errors import Diagnostic


@dataclass(kw_only=True)
class Tree:
    """The documents of a working tree as bytes, and the entries that could not be read."""

    files: dict[str, bytes] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)  # the real size of each file read only in part
    problems: list[Diagnostic] = field(default_factory=list)


def read_tree(root: Path) -> Tree:
    """Read every document file; symbolic links and special files are reported, never followed."""
    tree = Tree()
    for name in PROJECT_FILES:
        _read(root, name, tree)
    for folder in DOCUMENT_FOLDERS:
        top = root / folder
        if top.is_symlink():
            tree.problems.append(_problem(folder, "symbolic links are not followed"))
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            for d in dirnames:
                if (Path(dirpath) / d).is_symlink():
                    tree.problems.append(_problem(f"{rel_dir}/{d}", "symbolic links are not followed"))
            dirnames.sort()
            for filename in sorted(filenames):
                rel = f"{rel_dir}/{filename}"
                if expected_kind(rel) is not None:
                    _read(root, rel, tree)
    return tree


def _read(root: Path, rel: str, tree: Tree) -> None:
    path = root / rel
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        tree.problems.append(_problem(rel, "symbolic links are not followed"))
        return
    if not stat.S_ISREG(info.st_mode):
        tree.problems.append(_problem(rel, "not a regular file"))
        return
    try:
        with path.open("rb") as f:
            raw = tree.files[rel] = f.read(MAX_FILE_BYTES + 1)
            if len(raw) > MAX_FILE_BYTES:  # too large: enough to refuse it, and the size to say so
                tree.sizes[rel] = os.fstat(f.fileno()).st_size
    except OSError as exc:
        tree.problems.append(_problem(rel, f"cannot read: {exc.strerror}"))


def _problem(rel: str, message: str) -> Diagnostic:
    return Diagnostic(file=rel, line=1, col=1, message=message)


def validate_tree(root: Path) -> Validation:
    """Read and validate the working tree at `root`."""
    tree = read_tree(root)
    result = validate_files(tree.files, sizes=tree.sizes)
    if tree.problems:
        result.diagnostics = sorted([*result.diagnostics, *tree.problems], key=lambda d: (d.file, d.line, d.col))
        result.invalid_files.update(d.file for d in tree.problems)
    return result
