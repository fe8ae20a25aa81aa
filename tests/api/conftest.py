from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.server import Server, serve


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One reconciler serving the API for the whole module (each start costs a second or two)."""
    yield from serve(tmp_path_factory.mktemp("api"))
