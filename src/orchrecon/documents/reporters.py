"""Rendering validation results: text for people, JSON for programs, GitHub workflow commands."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from orchrecon.errors import Diagnostic, Severity, printable


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _counts(diagnostics: Sequence[Diagnostic], files: int) -> str:
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    return f"{plural(files, 'file')} checked: {plural(errors, 'error')}, {plural(warnings, 'warning')}"


def render_text(diagnostics: Sequence[Diagnostic], files: int) -> str:
    lines = [d.render() for d in diagnostics]
    lines.append(_counts(diagnostics, files))
    return "\n".join(lines) + "\n"


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    def item(d: Diagnostic) -> dict[str, object]:
        return {"file": d.file, "line": d.line, "col": d.col, "path": d.json_path, "message": d.message}

    errors = [item(d) for d in diagnostics if d.severity is Severity.ERROR]
    warnings = [item(d) for d in diagnostics if d.severity is Severity.WARNING]
    return json.dumps({"valid": not errors, "errors": errors, "warnings": warnings}, indent=2) + "\n"


def _escape_data(text: str) -> str:
    # GitHub decodes %0A back to a newline in the annotation; any other control character is escaped.
    return printable(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic], changed: Collection[str]) -> str:
    """Workflow-command annotations; problems in files the pull request changed come first."""
    ordered = sorted(diagnostics, key=lambda d: (d.file not in changed, d.file, d.line, d.col))
    lines = []
    for d in ordered:
        level = "error" if d.severity is Severity.ERROR else "warning"
        props = f"file={_escape_property(d.file)},line={d.line},col={d.col},title={_escape_property('orchrecon')}"
        lines.append(f"::{level} {props}::{_escape_data(f'{d.message} [{d.json_path}]')}")
    return "\n".join(lines) + ("\n" if lines else "")


def render_summary(diagnostics: Sequence[Diagnostic], files: int) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`."""
    failed = any(d.severity is Severity.ERROR for d in diagnostics)
    out = [
        "## orchrecon validate: " + ("failed" if failed else "passed"),
        "",
        _counts(diagnostics, files),
        "",
    ]
    if diagnostics:
        out += ["| | file | line | problem |", "|---|---|---|---|"]
        for d in diagnostics:
            icon = "❌" if d.severity is Severity.ERROR else "⚠️"
            message = printable(d.message).replace("|", "\\|")
            out.append(f"| {icon} | `{printable(d.file)}` | {d.line}:{d.col} | {message} `{d.json_path}` |")
        out.append("")
    return "\n".join(out) + "\n"
