"""The error tree and the diagnostic record every check produces."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
        return f"{self.file}:{self.line}:{self.col}: {self.severity.value}: {self.message} [{self.json_path}]"
