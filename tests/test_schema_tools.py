"""The schema works unchanged with standard tools, and our two validators agree on it."""

from __future__ import annotations

import subprocess
import sys

import jsonschema
import jsonschema_rs

from orchrecon.loader import load_text
from orchrecon.schema import load_schema, schema_path
from tests.conftest import EXAMPLE_REPO, ROOT

SCHEMA = ROOT / "schema" / "orchestration.schema.json"


def _check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", *args], capture_output=True, text=True, check=False
    )


def test_schema_passes_the_metaschema() -> None:
    done = _check_jsonschema("--check-metaschema", str(SCHEMA))
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_jsonschema_accepts_every_example_document() -> None:
    files = sorted(str(p) for p in EXAMPLE_REPO.rglob("*.yaml") if "jobs" not in p.parts)
    assert len(files) >= 9
    done = _check_jsonschema("--schemafile", str(SCHEMA), *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_example_file_carries_the_editor_schema_line() -> None:
    for path in EXAMPLE_REPO.rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target == SCHEMA, path


def test_installed_tool_finds_the_same_schema() -> None:
    assert schema_path().read_bytes() == SCHEMA.read_bytes()


def test_fast_and_reference_validators_agree_on_every_case_document() -> None:
    schema = load_schema()
    fast = jsonschema_rs.validator_for(schema)
    full = jsonschema.Draft202012Validator(schema)
    checked = 0
    for path in sorted((ROOT / "tests" / "cases").rglob("*.y*ml")):
        try:
            doc = load_text(path.name, path.read_bytes())
        except Exception:
            continue
        assert fast.is_valid(doc.data) == full.is_valid(doc.data), path
        checked += 1
    assert checked >= 20
