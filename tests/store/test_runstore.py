"""The run index over a real ledger."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchrecon.store import runstore
from orchrecon.store.ledger import Ledger
from orchrecon.store.runstore import RunStore
from tests.clocks import FakeClock


@pytest.mark.parametrize("few_names", [500, 1])
def test_recent_of_many_orchestrations_is_recent_of_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, few_names: int
) -> None:
    monkeypatch.setattr(runstore, "FEW_NAMES", few_names)  # both ways of asking: by name and by ranking all
    ledger = Ledger(tmp_path / "ledger", FakeClock())
    for n in range(15):
        for name in ("a", "b")[: 1 + n % 2] if n < 12 else ("a",):
            ledger.append_one("run.requested", run=f"{name}-{n:02}", orchestration=name, trigger="manual", phases=[])
    store = RunStore(ledger, tmp_path / "index.sqlite")
    found = store.recent_of(["a", "b", "c"], 10)
    assert found == {name: store.recent(name, 10) for name in ("a", "b", "c")}
    assert [r.id for r in found["a"]][:2] == ["a-14", "a-13"]
    assert (len(found["a"]), len(found["b"]), found["c"]) == (10, 6, [])
