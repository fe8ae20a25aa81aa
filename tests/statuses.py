"""Reading status files in tests: each one is checked against its published schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import ROOT

STATUS_SCHEMA = json.loads((ROOT / "schema" / "status.schema.json").read_text())


def read_status(state: Path, name: str) -> dict[str, Any]:
    """`status/<name>.json` of the state directory, valid against schema/status.schema.json."""
    status: dict[str, Any] = json.loads((state / "status" / f"{name}.json").read_text())
    jsonschema.validate(status, STATUS_SCHEMA)
    return status
