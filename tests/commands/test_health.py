"""`orchrecon health` reads the reconciler's heartbeat, against an injected clock."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from orchrecon.clock import format_time
from orchrecon.commands.health import run
from orchrecon.errors import OrchreconError
from tests.clocks import FakeClock


def _health(state: Path, clock: FakeClock, max_age: str | None = None) -> str:
    out = io.StringIO()
    assert run(repo=Path(), state_dir=state, max_age=max_age, out=out, environ={}, clock=clock) == 0
    return out.getvalue()


def _beat(state: Path, clock: FakeClock, **extra: object) -> None:
    (state / "status").mkdir(parents=True, exist_ok=True)
    status = {
        "pid": 7,
        "revision": "0123456789abcdef",
        "conditions": [{"type": "SourceReady", "status": "False", "reason": "FetchFailed", "message": "down"}],
        "heartbeatIntervalSeconds": 15.0,
        "updatedAt": format_time(clock.now()),
        "stoppedAt": None,
        **extra,
    }
    (state / "status" / "_reconciler.json").write_text(json.dumps(status))


def test_a_fresh_heartbeat_is_healthy_even_when_the_source_is_not_ready(tmp_path: Path) -> None:
    clock = FakeClock()
    _beat(tmp_path, clock)
    clock.advance(timedelta(seconds=44))
    assert _health(tmp_path, clock) == "healthy: pid 7, revision 0123456789ab, source FetchFailed, heartbeat 44s ago\n"


def test_three_missed_heartbeats_are_unhealthy_unless_a_longer_max_age_is_allowed(tmp_path: Path) -> None:
    clock = FakeClock()
    _beat(tmp_path, clock)
    clock.advance(timedelta(seconds=46))
    with pytest.raises(OrchreconError, match=r"^unhealthy: the reconciler's last heartbeat was 46s ago \("):
        _health(tmp_path, clock)
    assert _health(tmp_path, clock, max_age="2m").startswith("healthy: ")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "unhealthy: no reconciler has written "),
        ("{", "unhealthy: "),
        ('{"updatedAt": "yesterday", "heartbeatIntervalSeconds": 15}', "unhealthy: "),
        ('{"updatedAt": "2026-03-02T05:00:00.000Z", "heartbeatIntervalSeconds": 15, "stoppedAt": "x"}', "unhealthy: "),
    ],
)
def test_a_missing_torn_or_stopped_status_is_unhealthy(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "status").mkdir()
        (tmp_path / "status" / "_reconciler.json").write_text(content)
    with pytest.raises(OrchreconError) as caught:
        _health(tmp_path, FakeClock())
    assert str(caught.value).startswith(message)
    assert "Traceback" not in str(caught.value)
