from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execution import builders


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[builders.Workspace]:
    """A repository with the probe job, a state directory under tmp_path, and cleanup of what tests start."""
    yield from builders.workspace(tmp_path)
