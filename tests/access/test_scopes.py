"""Every scope x action x orchestration boundary: the whole table of `allows`, then the issue's cases by name."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchrecon.access import SCOPES, Action, Principal, allows, grant_problem, orchestration_principal


def token(*scopes: str, only: tuple[str, ...] | None = None, email: str | None = None) -> Principal:
    return Principal(
        name="t", scopes=frozenset(scopes), orchestrations=None if only is None else frozenset(only), email=email
    )


R, T, TB, AD = Action.READ, Action.TRIGGER, Action.TABLES, Action.ADMIN
ORCHESTRATIONS = (None, "a", "b")  # None: a listing, a table update, token administration

# What each principal may do; everything else is refused. "a" is the orchestration limited tokens name.
PRINCIPALS: dict[str, tuple[Principal, set[tuple[Action, str | None]]]] = {
    "admin": (token("admin"), set(itertools.product(Action, ORCHESTRATIONS))),
    "admin limited (no effect)": (token("admin", only=("a",)), set(itertools.product(Action, ORCHESTRATIONS))),
    "reader": (token("runs:read"), {(R, None), (R, "a"), (R, "b")}),
    "reader of a": (token("runs:read", only=("a",)), {(R, None), (R, "a")}),
    "trigger token of a": (token("runs:trigger", only=("a",)), {(R, None), (R, "a"), (T, "a")}),
    "trigger everything": (token("runs:trigger"), {(R, None), (R, "a"), (R, "b"), (T, None), (T, "a"), (T, "b")}),
    "tables writer": (token("tables:write"), {(TB, None), (TB, "a"), (TB, "b")}),
    "tables writer, reader of a": (
        token("tables:write", "runs:read", only=("a",)),
        {(TB, None), (TB, "a"), (TB, "b"), (R, None), (R, "a")},
    ),
    "orchestration token of a": (orchestration_principal("a"), {(TB, None), (TB, "a"), (TB, "b"), (R, None), (R, "a")}),
    "no scope": (token(), set()),
    "limited to nothing": (token("runs:read", "runs:trigger", only=()), set()),
    "unknown scope": (token("runs:write", "ADMIN"), set()),
}
CASES = [
    pytest.param(
        principal, action, orchestration, (action, orchestration) in allowed, id=f"{label}-{action}-{orchestration}"
    )
    for label, (principal, allowed) in PRINCIPALS.items()
    for action in Action
    for orchestration in ORCHESTRATIONS
]


@pytest.mark.parametrize(("principal", "action", "orchestration", "expected"), CASES)
def test_the_whole_table(principal: Principal, action: Action, orchestration: str | None, expected: bool) -> None:
    assert allows(principal, action, orchestration) is expected


def test_the_table_covers_every_scope_action_and_orchestration() -> None:
    assert len(CASES) == len(PRINCIPALS) * len(Action) * len(ORCHESTRATIONS)
    single = {next(iter(p.scopes)) for p, _ in PRINCIPALS.values() if len(p.scopes) == 1}
    assert set(SCOPES) <= single


def test_a_trigger_token_is_refused_on_tables_another_orchestration_and_administration() -> None:
    trigger = token("runs:trigger", only=("daily-sales",))
    assert allows(trigger, T, "daily-sales")
    assert allows(trigger, R, "daily-sales")
    assert not allows(trigger, TB)
    assert not allows(trigger, T, "weekly")
    assert not allows(trigger, R, "weekly")
    assert not allows(trigger, AD)


def test_an_orchestration_token_is_refused_on_another_orchestrations_runs_and_on_triggering() -> None:
    own = orchestration_principal("daily-sales")
    assert allows(own, TB)
    assert allows(own, R, "daily-sales")
    assert not allows(own, R, "weekly")
    assert not allows(own, T, "daily-sales")
    assert not allows(own, T, "weekly")
    assert not allows(own, AD)


def test_the_orchestration_principal_names_its_orchestration() -> None:
    own = orchestration_principal("daily-sales")
    assert (own.name, own.orchestration_token, own.email) == ("orchestration:daily-sales", True, None)
    assert own.orchestrations == frozenset({"daily-sales"})


names = st.text(alphabet="abc-", min_size=1, max_size=4)


@given(scopes=st.sets(st.sampled_from(SCOPES)), only=st.sets(names), target=names, action=st.sampled_from(Action))
def test_a_limited_token_without_admin_never_reaches_outside_its_orchestrations(
    scopes: set[str], only: set[str], target: str, action: Action
) -> None:
    principal = token(*scopes - {"admin"}, only=tuple(only))
    if target not in only and action in (R, T):
        assert not allows(principal, action, target)


@given(scopes=st.sets(st.sampled_from(SCOPES)), action=st.sampled_from(Action), target=st.none() | names)
def test_admin_may_do_everything_and_only_admin_administers(
    scopes: set[str], action: Action, target: str | None
) -> None:
    principal = token(*scopes)
    if "admin" in scopes:
        assert allows(principal, action, target)
    else:
        assert not allows(principal, AD, target)


@pytest.mark.parametrize(
    ("scopes", "orchestrations", "problem"),
    [
        ((), (), "a token needs at least one --scope (runs:trigger, runs:read, tables:write, admin)"),
        (("runs:write",), (), "unknown scope 'runs:write' (one of runs:trigger, runs:read, tables:write, admin)"),
        (
            ("tables:write",),
            ("daily",),
            "--orchestration limits runs:trigger and runs:read only; this token has neither",
        ),
        (("admin", "runs:read"), ("daily",), "--orchestration cannot limit admin, which may do everything"),
        (
            ("runs:read",),
            ("Daily",),
            "--orchestration 'Daily' is not an orchestration name (lowercase letters, digits and '-', 1 to 63 "
            "characters, starting and ending with a letter or digit)",
        ),
    ],
)
def test_grant_problems(scopes: tuple[str, ...], orchestrations: tuple[str, ...], problem: str) -> None:
    assert grant_problem(scopes, orchestrations) == problem


@pytest.mark.parametrize(
    ("scopes", "orchestrations"),
    [(("admin",), ()), (("runs:trigger",), ("daily",)), (("runs:read", "tables:write"), ("a", "b")), (SCOPES, ())],
)
def test_grants_accepted(scopes: tuple[str, ...], orchestrations: tuple[str, ...]) -> None:
    assert grant_problem(scopes, orchestrations) is None
