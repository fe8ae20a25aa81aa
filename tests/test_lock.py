"""The lock (requirements/*.txt) that README's commands, .ci/run and the Dockerfile install from must satisfy
pyproject.toml's ranges: a dependency added or a range moved without locking again fails here, not on a user."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", re.M)


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {canonicalize_name(name): version for name, version in _PIN.findall(text)}


def _project() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        "main.txt": project["dependencies"],
        "dev.txt": project["dependencies"] + project["optional-dependencies"]["dev"],
    }


@pytest.mark.parametrize("lock", ["main.txt", "dev.txt"])
def test_every_dependency_is_pinned_within_its_range(lock: str) -> None:
    pins = _pins(lock)
    for spec in _project()[lock]:
        requirement = Requirement(spec)
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements/{lock}; lock again (README)"
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement.name}=={version} vs {spec}"


@pytest.mark.parametrize("lock", ["main.txt", "dev.txt"])
def test_every_pin_carries_hashes(lock: str) -> None:
    blocks = re.split(r"\n(?=[A-Za-z])", (ROOT / "requirements" / lock).read_text())
    pinned = [block for block in blocks if _PIN.match(block)]
    assert pinned
    assert [block.split(" ", 1)[0] for block in pinned if "--hash=sha256:" not in block] == []
