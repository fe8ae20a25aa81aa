"""The schema works unchanged with standard tools, and our two validators agree on it."""

from __future__ import annotations

import re
import subprocess
import sys

import jsonschema
import jsonschema_rs
import yaml

from orchrecon.documents.loader import load_text
from orchrecon.documents.schema import load_schema, schema_path
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


def test_every_example_file_carries_the_editor_schema_line_to_the_examples_own_copy() -> None:
    for path in EXAMPLE_REPO.rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target == EXAMPLE_REPO / "schema" / SCHEMA.name, path  # inside: the example works when copied


def test_the_examples_schema_copy_is_the_schema() -> None:
    assert (EXAMPLE_REPO / "schema" / SCHEMA.name).read_bytes() == SCHEMA.read_bytes()


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


def _properties(node: object, path: str = "$") -> list[tuple[str, dict[str, object]]]:
    found: list[tuple[str, dict[str, object]]] = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            found.append((f"{path}.{name}", prop))
        for key, child in node.items():
            found += _properties(child, f"{path}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += _properties(child, f"{path}[{i}]")
    return found


def test_every_property_is_described_for_editors() -> None:
    properties = _properties(load_schema())
    assert len(properties) > 60
    # `if` subschemas only dispatch on kind; they are not properties an editor shows.
    undescribed = [path for path, prop in properties if not prop.get("description") and "/if" not in path]
    assert undescribed == []


def test_every_object_refuses_unknown_properties() -> None:
    free_form = {"parameters", "body"}
    open_objects = [
        path
        for path, prop in _properties(load_schema())
        if prop.get("type") == "object"
        and path.rsplit(".", 1)[-1] not in free_form
        and prop.get("additionalProperties") is not False
        and "$ref" not in prop
        and not isinstance(prop.get("additionalProperties"), dict)
    ]
    assert open_objects == []


def test_pre_commit_hook_selects_exactly_the_document_files() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "orchrecon-validate")
    assert hook["entry"] == "orchrecon validate"
    pattern = re.compile(hook["files"])
    documents = {p.relative_to(EXAMPLE_REPO).as_posix() for p in EXAMPLE_REPO.rglob("*.yaml") if "jobs" not in p.parts}
    everything = {p.relative_to(EXAMPLE_REPO).as_posix() for p in EXAMPLE_REPO.rglob("*") if p.is_file()}
    assert {f for f in everything if pattern.search(f)} == documents
