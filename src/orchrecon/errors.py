"""The error tree and the diagnostic record every check produces."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
