"""The error tree and the diagnostic record every check produces."""

from __future__ import annotations

import enum
import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def printable(text: str) -> str:
    """`text` with each character a terminal would act on or hide (newline, escape, other controls,
    bidi overrides) written as its Python escape, as `repr` does: a message stays one honest line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class OrchreconError(Exception):
    """A problem the user can act on; `main` prints it as one line and exits with `exit_code`."""

    exit_code = 1


class UsageError(OrchreconError):
    """Bad arguments, or something named on the command line that does not exist."""

    exit_code = 2


class NotFoundError(UsageError):
    """An unknown orchestration, run, table or path."""


class StorageError(OrchreconError):
    """A file in the state directory could not be written (disk full, file too large, read-only,
    immutable, I/O error). `str()` names the file as the user sees it; `reason` names it absolutely,
    for records other processes read."""

    def __init__(self, action: str, path: str, cause: str, *, shown: str | None = None) -> None:
        self.action, self.path, self.cause = action, path, cause
        self.reason = f"{action} {path}: {cause}"
        super().__init__(f"{action} {shown or path}: {cause}")


# Naming write failures: an `OSError` on a state file becomes a `StorageError` that says which file and
# why ("cannot append to .orchrecon/ledger/00000001.jsonl: file too large").


def cause(exc: OSError) -> str:
    """The reason in the words of strerror(3), lower case: "no space left on device"."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]


def shown(path: Path | str) -> str:
    """`path` relative to the working directory when it lies below it (as a user who names the state
    directory relatively, or uses the repository's own, wrote it), else absolute."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def storage_error(action: str, path: Path | str, exc: OSError) -> StorageError:
    """`exc`, raised by a call on `path`, as a `StorageError`."""
    return StorageError(action, str(path), cause(exc), shown=shown(path))


@contextmanager
def writing(action: str, path: Path | str) -> Iterator[None]:
    """Turn an `OSError` raised inside into a `StorageError` "`action` `path`: cause"."""
    try:
        yield
    except OSError as exc:
        raise storage_error(action, path, exc) from None


# errno values that mean the file system refused a write (rather than a wrong name or a bug)
FAULTS = {errno.ENOSPC, errno.EFBIG, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO, errno.EDQUOT, errno.ENOLCK}


def crash_log(exc: BaseException) -> str:
    """Write the traceback of a bug to a new file in the temporary folder; says where (or why not)."""
    import tempfile  # noqa: PLC0415 - only a bug pays for these at start-up
    import traceback  # noqa: PLC0415

    try:
        folder = tempfile.gettempdir()
    except OSError:  # it probes each candidate with a write; under `ulimit -f 0` every probe fails
        folder = os.environ.get("TMPDIR") or "/tmp"
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="orchrecon-crash-", suffix=".log", dir=folder, delete=False
        ) as log:
            traceback.print_exception(exc, file=log)
    except OSError as log_error:
        return f"no traceback: cannot write a crash log in {folder}: {cause(log_error)}"
    return f"traceback in {log.name}"


def user_error(exc: BaseException) -> OrchreconError | None:
    """What to tell the user about `exc`: itself if it is ours; a write failure on a named file (one no
    code path named more precisely) as a `StorageError`; the first of these in an exception group."""
    if isinstance(exc, OrchreconError):
        return exc
    if isinstance(exc, OSError) and exc.errno in FAULTS and isinstance(exc.filename, str):
        writing_only = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT)  # others fail reads too
        return storage_error("cannot write" if writing_only else "cannot access", exc.filename, exc)
    if isinstance(exc, BaseExceptionGroup):
        found = [user_error(e) for e in exc.exceptions]
        return found[0] if found and all(f is not None for f in found) else None
    return None


class InvalidDocumentsError(OrchreconError):
    """The repository's documents failed validation; the diagnostics say where."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity is Severity.ERROR]
        first = errors[0].render() if errors else "invalid documents"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first + more)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, kw_only=True)
class Diagnostic:
    """One problem found in one file; `line` and `col` are 1-based, `json_path` like `$.spec.phases[0]`."""

    file: str
    line: int
    col: int
    message: str
    json_path: str = "$"
    severity: Severity = Severity.ERROR

    def render(self) -> str:
        where = f"{printable(self.file)}:{self.line}:{self.col}"
        return f"{where}: {self.severity.value}: {printable(self.message)} [{printable(self.json_path)}]"
