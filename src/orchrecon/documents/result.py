"""The result of validating a repository: its valid documents as model objects, and every problem found.

Its own module so that validation and the cross-file checks both build on it and neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchrecon.documents.loader import Document
from orchrecon.documents.model import Configuration, Orchestration, Project
from orchrecon.errors import Diagnostic, Severity


@dataclass(kw_only=True)
class Validation:
    """What a repository's files amount to: the valid documents as model objects, and every problem."""

    project: Project = field(default_factory=Project)
    configurations: dict[str, Configuration] = field(default_factory=dict)
    orchestrations: dict[str, Orchestration] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)  # by file
    files: dict[str, str] = field(default_factory=dict)  # "Orchestration/name" or "Configuration/c/n" -> file
    invalid_files: set[str] = field(default_factory=set)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def checked_files(self) -> set[str]:
        """Every document file looked at, loadable or not."""
        return {*self.documents, *(d.file for d in self.diagnostics)}

    @property
    def valid(self) -> bool:
        return not self.errors
