"""Which changes of an orchestration's condition the reconciler's log tells."""

from __future__ import annotations

from orchrecon.reconcile.desired import Desired, Reason
from orchrecon.reconcile.events import condition_changes, conditions, not_ready


def _desired(name: str, reason: Reason, message: str = "m") -> Desired:
    ready = reason in (Reason.SUCCEEDED, Reason.SUSPENDED)
    return Desired(
        name=name,
        applied=None,
        applied_revision="r1",
        last_attempted_revision="r2",
        ready=ready,
        reason=reason,
        message=message,
    )


def test_only_changes_are_told_and_a_new_revision_in_a_message_is_no_change() -> None:
    before = {
        "a": _desired("a", Reason.SUSPENDED, "applied revision r1; suspended"),
        "b": _desired("b", Reason.REMOVED),
    }
    told = conditions(before)
    after = {
        "a": _desired("a", Reason.SUSPENDED, "applied revision r2; suspended"),
        "b": _desired("b", Reason.REMOVED, "removed in revision r2"),
        "c": _desired("c", Reason.SUCCEEDED),
    }
    assert condition_changes(told, after) == []
    assert not_ready(after) == []  # removed is not "not ready"


def test_suspension_failure_and_recovery_each_get_a_line() -> None:
    told = conditions({"a": _desired("a", Reason.SUCCEEDED)})
    events = condition_changes(told, {"a": _desired("a", Reason.SUSPENDED, "suspended")})
    assert [e for e, _ in events] == ["orchestration suspended"]
    told = conditions({"a": _desired("a", Reason.SUSPENDED, "suspended")})
    failed = {"a": _desired("a", Reason.VALIDATION_FAILED, "x.yaml:1:1: error: bad")}
    assert condition_changes(told, failed) == [
        (
            "orchestration not ready",
            {"orchestration": "a", "reason": "ValidationFailed", "message": "x.yaml:1:1: error: bad"},
        )
    ]
    assert condition_changes(conditions(failed), failed) == []
    assert [e for e, _ in condition_changes(conditions(failed), {"a": _desired("a", Reason.SUCCEEDED)})] == [
        "orchestration ready"
    ]
