"""Event-trigger decisions (`orchrecon.scheduling.triggers`), one test per sentence of docs/runs.md on triggers.

`evaluate` is pure: the trigger, what the ledger says (`TriggerView`) and `now`. Every time below is an
explicit aware UTC datetime, or advanced through `tests.clocks.FakeClock`; the real clock is never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from orchrecon.documents.model import Trigger
from orchrecon.scheduling.triggers import TriggerState, TriggerView, Verdict, evaluate, trigger_key, trigger_record
from tests.clocks import FakeClock

T0 = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
ORDERS = "in.c-shop.orders"
CUSTOMERS = "in.c-crm.customers"


def _at(minutes: float) -> datetime:
    """T0 plus this many minutes."""
    return T0 + timedelta(minutes=minutes)


def _trigger(*tables: str, cooldown: timedelta = timedelta(hours=1)) -> Trigger:
    return Trigger(tables=tables or (ORDERS, CUSTOMERS), cooldown=cooldown)


def _view(
    updates: Mapping[str, datetime], *, last_run_start: datetime | None = None, armed_at: datetime = T0
) -> TriggerView:
    return TriggerView(armed_at=armed_at, last_run_start=last_run_start, updates=dict(updates))


class _Evaluator:
    """The one evaluator: records a table update and decides the trigger then, and only then."""

    def __init__(self, trigger: Trigger, clock: FakeClock, *, last_run_start: datetime | None) -> None:
        self.trigger, self.clock, self.last_run_start = trigger, clock, last_run_start
        self.armed_at = clock.now()
        self.updates: dict[str, datetime] = {}
        self.decisions: list[tuple[datetime, Verdict]] = []

    def state(self) -> TriggerState:
        view = _view(self.updates, last_run_start=self.last_run_start, armed_at=self.armed_at)
        return evaluate(self.trigger, view, self.clock.now())

    def updated(self, table: str) -> Verdict:
        self.updates[table] = self.clock.now()
        verdict = self.state().verdict
        self.decisions.append((self.clock.now(), verdict))
        return verdict


# --- "It fires when every listed table was updated after the start of the orchestration's last run
#      (whatever started it) and the cool-down since that run has passed." ---


def test_fires_when_every_table_was_updated_after_the_last_run_start_and_the_cooldown_passed() -> None:
    view = _view({ORDERS: _at(70), CUSTOMERS: _at(80)}, last_run_start=_at(10))

    state = evaluate(_trigger(), view, _at(80))

    assert state.verdict is Verdict.FIRE
    assert state.since == _at(10)
    assert state.tables == {ORDERS: _at(70), CUSTOMERS: _at(80)}
    assert state.waiting_for == ()
    assert state.cooldown_until == _at(70)


def test_waits_when_one_table_was_not_updated_since_the_last_run_and_names_it() -> None:
    view = _view({ORDERS: _at(90), CUSTOMERS: _at(5)}, last_run_start=_at(10))

    state = evaluate(_trigger(), view, _at(90))

    assert state.verdict is Verdict.WAITING
    assert state.waiting_for == (CUSTOMERS,)
    assert state.tables == {ORDERS: _at(90), CUSTOMERS: _at(5)}


def test_waits_for_a_table_never_updated_at_all() -> None:
    state = evaluate(_trigger(), _view({ORDERS: _at(90)}, last_run_start=_at(10)), _at(90))

    assert state.verdict is Verdict.WAITING
    assert state.waiting_for == (CUSTOMERS,)
    assert state.tables == {ORDERS: _at(90), CUSTOMERS: None}


def test_an_update_at_the_very_instant_the_last_run_started_does_not_count() -> None:
    state = evaluate(_trigger(), _view({ORDERS: _at(90), CUSTOMERS: _at(10)}, last_run_start=_at(10)), _at(90))

    assert state.verdict is Verdict.WAITING
    assert state.waiting_for == (CUSTOMERS,)


def test_the_last_run_counts_whatever_started_it_a_manual_run_resets_what_counts() -> None:
    updates = {ORDERS: _at(20), CUSTOMERS: _at(30)}
    assert evaluate(_trigger(), _view(updates, last_run_start=None), _at(30)).verdict is Verdict.FIRE

    # A manual run started at +40: both updates are now older than the orchestration's last run.
    state = evaluate(_trigger(), _view(updates, last_run_start=_at(40)), _at(41))

    assert state.verdict is Verdict.WAITING
    assert state.since == _at(40)
    assert state.waiting_for == (ORDERS, CUSTOMERS)


def test_a_run_still_waiting_resets_what_counts_from_its_request_time() -> None:
    # The last run was requested at +50 and has not started: last_run_start is its request time.
    view = _view({ORDERS: _at(45), CUSTOMERS: _at(55)}, last_run_start=_at(50))

    state = evaluate(_trigger(), view, _at(55))

    assert state.verdict is Verdict.WAITING
    assert state.since == _at(50)
    assert state.waiting_for == (ORDERS,)


def test_the_cooldown_is_measured_from_the_start_of_the_last_run() -> None:
    view = _view({ORDERS: _at(15), CUSTOMERS: _at(20)}, last_run_start=_at(10))

    during = evaluate(_trigger(), view, _at(69))
    after = evaluate(_trigger(), view, _at(71))

    assert during.verdict is Verdict.COOLDOWN
    assert during.cooldown_until == _at(70)
    assert during.waiting_for == ()
    assert after.verdict is Verdict.FIRE
    assert after.cooldown_until == _at(70)


def test_the_cooldown_is_measured_from_the_run_not_from_when_the_trigger_appeared() -> None:
    view = _view({ORDERS: _at(40), CUSTOMERS: _at(45)}, last_run_start=_at(10), armed_at=_at(30))

    state = evaluate(_trigger(), view, _at(69))

    assert state.verdict is Verdict.COOLDOWN
    assert state.since == _at(30)
    assert state.cooldown_until == _at(70)


def test_without_a_previous_run_there_is_no_cooldown() -> None:
    state = evaluate(_trigger(), _view({ORDERS: _at(1), CUSTOMERS: _at(2)}), _at(2))

    assert state.verdict is Verdict.FIRE
    assert state.cooldown_until is None


# --- "Updates during the cool-down still count; nothing fires when the cool-down merely ends." ---


def test_updates_during_the_cooldown_still_count() -> None:
    clock = FakeClock(T0)
    evaluator = _Evaluator(_trigger(), clock, last_run_start=_at(0))
    clock.advance(timedelta(minutes=10))
    assert evaluator.updated(ORDERS) is Verdict.WAITING
    clock.advance(timedelta(minutes=10))
    assert evaluator.updated(CUSTOMERS) is Verdict.COOLDOWN

    clock.advance(timedelta(minutes=50))  # +70: the cool-down (until +60) has passed
    assert evaluator.updated(ORDERS) is Verdict.FIRE  # CUSTOMERS' update at +20 still counts

    assert evaluator.decisions == [
        (_at(10), Verdict.WAITING),
        (_at(20), Verdict.COOLDOWN),
        (_at(70), Verdict.FIRE),
    ]


def test_nothing_fires_when_the_cooldown_merely_ends() -> None:
    clock = FakeClock(T0)
    evaluator = _Evaluator(_trigger(), clock, last_run_start=_at(0))
    clock.advance(timedelta(minutes=10))
    evaluator.updated(ORDERS)
    clock.advance(timedelta(minutes=10))
    evaluator.updated(CUSTOMERS)

    clock.advance(timedelta(minutes=40))  # +60: the cool-down ends, and no table is updated
    clock.advance(timedelta(hours=5))

    # The state would fire on an update now, but with no update nothing is decided: the last
    # decision stays the cool-down one.
    assert evaluator.state().verdict is Verdict.FIRE
    assert evaluator.decisions == [(_at(10), Verdict.WAITING), (_at(20), Verdict.COOLDOWN)]
    assert evaluator.decisions[-1][1] is Verdict.COOLDOWN


# --- "A newly added trigger counts updates from the moment it appeared." ---


def test_a_new_trigger_counts_updates_only_from_the_moment_it_appeared() -> None:
    view = _view({ORDERS: _at(20), CUSTOMERS: _at(40)}, last_run_start=None, armed_at=_at(30))

    state = evaluate(_trigger(), view, _at(40))

    assert state.verdict is Verdict.WAITING
    assert state.since == _at(30)
    assert state.waiting_for == (ORDERS,)
    assert state.cooldown_until is None


def test_a_new_trigger_ignores_updates_before_it_appeared_even_after_an_older_run() -> None:
    view = _view({ORDERS: _at(20), CUSTOMERS: _at(40)}, last_run_start=_at(10), armed_at=_at(30))

    state = evaluate(_trigger(cooldown=timedelta(minutes=5)), view, _at(40))

    assert state.verdict is Verdict.WAITING
    assert state.since == _at(30)
    assert state.waiting_for == (ORDERS,)


def test_a_new_trigger_fires_once_every_table_is_updated_after_it_appeared() -> None:
    view = _view({ORDERS: _at(31), CUSTOMERS: _at(40)}, last_run_start=None, armed_at=_at(30))

    assert evaluate(_trigger(), view, _at(40)).verdict is Verdict.FIRE


# --- "Every decision is recorded in the ledger: ... waiting for tables, not fired because the
#      orchestration is suspended or invalid." ---


def test_a_suspended_orchestration_gets_suspended_whatever_the_tables() -> None:
    fresh = _view({ORDERS: _at(80), CUSTOMERS: _at(90)}, last_run_start=_at(10))
    stale = _view({}, last_run_start=_at(10))

    assert evaluate(_trigger(), fresh, _at(90), suspended=True).verdict is Verdict.SUSPENDED
    assert evaluate(_trigger(), stale, _at(90), suspended=True).verdict is Verdict.SUSPENDED
    assert evaluate(_trigger(), fresh, _at(20), suspended=True).verdict is Verdict.SUSPENDED


def test_an_invalid_orchestration_gets_invalid_whatever_the_tables() -> None:
    fresh = _view({ORDERS: _at(80), CUSTOMERS: _at(90)}, last_run_start=_at(10))
    stale = _view({}, last_run_start=_at(10))

    assert evaluate(_trigger(), fresh, _at(90), valid=False).verdict is Verdict.INVALID
    assert evaluate(_trigger(), stale, _at(90), valid=False).verdict is Verdict.INVALID
    assert evaluate(_trigger(), fresh, _at(20), valid=False).verdict is Verdict.INVALID


def test_every_trigger_decision_kind_has_a_verdict() -> None:
    assert {v.value for v in Verdict} == {"fire", "cooldown", "waiting", "suspended", "invalid"}


# --- Trigger identity: "other tables make a new trigger, another cool-down does not". ---


def test_trigger_key_ignores_table_order_and_cooldown() -> None:
    a = trigger_key("daily", _trigger(ORDERS, CUSTOMERS, cooldown=timedelta(minutes=5)))
    b = trigger_key("daily", _trigger(CUSTOMERS, ORDERS, cooldown=timedelta(hours=2)))

    assert a == b == f"daily:{CUSTOMERS},{ORDERS}"


def test_trigger_key_changes_with_the_tables_and_the_orchestration() -> None:
    both = trigger_key("daily", _trigger(ORDERS, CUSTOMERS))

    assert trigger_key("daily", _trigger(ORDERS)) == f"daily:{ORDERS}"
    assert trigger_key("daily", _trigger(ORDERS)) != both
    assert trigger_key("daily", _trigger(ORDERS, CUSTOMERS, "in.c-shop.items")) != both
    assert trigger_key("hourly", _trigger(ORDERS, CUSTOMERS)) != both


def test_records_say_what_was_decided_and_why() -> None:
    trigger = _trigger()
    view = _view({ORDERS: _at(10)}, last_run_start=_at(0))
    waiting = trigger_record("daily", evaluate(trigger, view, _at(10)))
    assert waiting == {
        "type": "trigger.suppressed",
        "orchestration": "daily",
        "reason": "waiting",
        "tables": {ORDERS: "2026-03-02T05:10:00.000Z", CUSTOMERS: None},
        "waitingFor": [CUSTOMERS],
        "message": f"waiting for {CUSTOMERS}",
    }
    view = _view({ORDERS: _at(10), CUSTOMERS: _at(20)}, last_run_start=_at(0))
    cooling = trigger_record("daily", evaluate(trigger, view, _at(20)))
    assert (cooling["reason"], cooling["cooldownUntil"]) == ("cooldown", "2026-03-02T06:00:00.000Z")
    fired = trigger_record("daily", evaluate(trigger, view, _at(80)))
    assert fired == {
        "type": "trigger.fired",
        "orchestration": "daily",
        "tables": {ORDERS: "2026-03-02T05:10:00.000Z", CUSTOMERS: "2026-03-02T05:20:00.000Z"},
    }
