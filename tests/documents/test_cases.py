"""Regression cases: each folder under cases/ is a small repository; invalid ones pin their diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from orchrecon.documents.reporters import render_text
from orchrecon.documents.repository import validate_tree

CASES = Path(__file__).parents[1] / "cases"


def _cases(kind: str) -> list[Path]:
    return sorted(p for p in (CASES / kind).iterdir() if p.is_dir())


@pytest.mark.parametrize("case", _cases("invalid"), ids=lambda p: p.name)
def test_invalid_case_is_refused_with_positions(case: Path, snapshot: SnapshotAssertion) -> None:
    result = validate_tree(case)
    assert result.errors, f"{case.name} should be invalid"
    assert all(d.line >= 1 and d.col >= 1 for d in result.diagnostics)
    assert render_text(result.diagnostics, len(result.checked_files)) == snapshot


@pytest.mark.parametrize("case", _cases("valid"), ids=lambda p: p.name)
def test_valid_case_has_no_errors(case: Path, snapshot: SnapshotAssertion) -> None:
    result = validate_tree(case)
    assert [d.render() for d in result.errors] == []
    assert result.orchestrations or result.configurations
    assert render_text(result.diagnostics, len(result.checked_files)) == snapshot


def test_there_are_enough_invalid_cases() -> None:
    assert len(_cases("invalid")) >= 25
