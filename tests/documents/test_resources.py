"""`run.resources`: what a Dask worker must offer, built into the model with sizes in bytes."""

from __future__ import annotations

import pytest

from orchrecon.documents.model import Configuration
from orchrecon.documents.validation import validate_files

FILE = "configurations/ml-train/model.yaml"


def _validate(run: str) -> tuple[Configuration | None, list[str]]:
    head = "apiVersion: orchrecon/v1\nkind: Configuration\nmetadata: {component: ml-train, name: model}\nspec:\n"
    text = head + run
    result = validate_files({FILE: text.encode()})
    return result.configurations.get("ml-train/model"), [d.render() for d in result.diagnostics]


def test_amounts_are_numbers_and_sizes_are_bytes() -> None:
    config, problems = _validate(
        "  run:\n    command: [python, jobs/train.py]\n"
        "    resources: {memory: 4GiB, scratch: 1.5GB, slots: 1, GPU: 0.5}\n"
    )
    assert problems == []
    assert config is not None
    assert config.run.resources == {"memory": 4_294_967_296, "scratch": 1_500_000_000, "slots": 1, "GPU": 0.5}


def test_without_resources_a_run_asks_for_none() -> None:
    config, _ = _validate("  run:\n    command: [python, jobs/train.py]\n")
    assert config is not None
    assert config.run.resources == {}


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (".inf", "expected a finite number, got infinity (.inf, or a number too large to hold, like 1e400)"),
        ("1e400", "expected a finite number, got infinity (.inf, or a number too large to hold, like 1e400)"),
        ("-.inf", "must be more than 0, got -inf"),
        (".nan", "expected a number, got .nan (not a number)"),
    ],
)
def test_an_amount_that_is_not_finite_is_refused_at_its_position(amount: str, message: str) -> None:
    # Not a case file: jsonschema-rs refuses these and python-jsonschema takes them, which that suite forbids.
    config, problems = _validate(f"  run:\n    command: [python, jobs/train.py]\n    resources:\n      GPU: {amount}\n")
    assert config is None
    assert problems == [f"{FILE}:8:12: error: {message} [$.spec.run.resources.GPU]"]
