"""The statements of a process's session, grouped: what waits together goes as one statement per kind, in an
order that keeps every lock held until its task's record is written."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from orchrecon.store.postgresql.appender import GroupAppender, committed
from orchrecon.store.postgresql.database import Database
from orchrecon.store.records import Record
from tests.store.postgresql.sessions import locks_on

WAIT = 15


class Session:
    """The three statements, each call noted; `gate`, while clear, holds the first append back."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, list[Any]]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.held = threading.Event()
        self.seq = 0
        self.refuse: Exception | None = None

    def append(self, records: Sequence[Mapping[str, Any]]) -> list[Record]:
        self.held.set()
        assert self.gate.wait(WAIT)
        self.statements.append(("append", [r["i"] for r in records]))
        if self.refuse is not None:
            raise self.refuse
        written = []
        for r in records:
            self.seq += 1
            written.append({"seq": self.seq, **r})
        return written

    def take(self, names: Sequence[str]) -> list[bool]:
        self.statements.append(("take", list(names)))
        return [not n.startswith("busy") for n in names]

    def release(self, names: Sequence[str]) -> None:
        self.statements.append(("release", list(names)))


@contextmanager
def _appender(session: Session) -> Iterator[GroupAppender]:
    appender = GroupAppender(session.append, session.take, session.release)
    try:
        yield appender
    finally:
        appender.close()


def _held_back(session: Session, appender: GroupAppender) -> None:
    """Have the thread busy with an append of i=0 until `session.gate` is set."""
    session.gate.clear()
    appender.append([{"i": 0}])
    assert session.held.wait(WAIT)


def test_what_waits_together_goes_as_one_statement_per_kind_appends_first() -> None:
    session = Session()
    with _appender(session) as appender:
        _held_back(session, appender)
        took = appender.take("config.a")
        first = appender.append([{"i": 1}, {"i": 2}])
        appender.release("config.b")
        busy = appender.take("busy.c")
        second = appender.append([{"i": 3}])
        session.gate.set()
        assert [r["i"] for r in first.result(WAIT)] == [1, 2]
        assert second.result(WAIT) == [{"seq": 4, "i": 3}]  # its own slice of the group's seqs
        assert took.result(WAIT) is True
        assert busy.result(WAIT) is False
    assert session.statements == [
        ("append", [0]),
        ("append", [1, 2, 3]),
        ("release", ["config.b"]),
        ("take", ["config.a", "busy.c"]),
    ]


def test_a_call_keeps_its_place_between_the_groups() -> None:
    session = Session()
    with _appender(session) as appender:
        _held_back(session, appender)
        appender.append([{"i": 1}])

        def decide() -> str:
            session.statements.append(("call", []))
            return "decided"

        called = appender.call(decide)
        appender.append([{"i": 2}])
        session.gate.set()
        assert called.result(WAIT) == "decided"
    assert session.statements == [("append", [0]), ("append", [1]), ("call", []), ("append", [2])]


def test_a_refused_group_refuses_each_of_its_appends_and_the_thread_goes_on() -> None:
    session = Session()
    with _appender(session) as appender:
        _held_back(session, appender)
        session.refuse = RuntimeError("the database refused it")
        one, two = appender.append([{"i": 1}]), appender.append([{"i": 2}])
        session.gate.set()
        for future in (one, two):
            with pytest.raises(RuntimeError, match="refused"):
                future.result(WAIT)
        session.refuse = None
        assert appender.append([{"i": 3}]).result(WAIT)[0]["i"] == 3


def test_a_cancel_while_a_record_is_written_waits_for_it_and_comes_at_the_next_await() -> None:
    session = Session()

    async def scenario(appender: GroupAppender) -> tuple[list[Record] | None, bool]:
        got: list[list[Record]] = []

        async def step() -> None:
            got.append(await committed(appender.append([{"i": 1}])))
            await asyncio.sleep(WAIT)  # where the cancel lands

        session.gate.clear()
        task = asyncio.create_task(step())
        await asyncio.to_thread(session.held.wait, WAIT)
        task.cancel()
        await asyncio.sleep(0)
        session.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        return (got[0] if got else None), task.cancelled()

    with _appender(session) as appender:
        written, cancelled = asyncio.run(scenario(appender))
    assert written == [{"seq": 1, "i": 1}]  # the caller knows of the record the ledger holds
    assert cancelled


def test_after_a_close_the_next_append_starts_it_again() -> None:
    session = Session()
    with _appender(session) as appender:
        assert appender.append([{"i": 1}]).result(WAIT)[0]["seq"] == 1
        appender.close()
        assert appender.append([{"i": 2}]).result(WAIT)[0]["seq"] == 2
    assert session.statements == [("append", [1]), ("append", [2])]


def test_an_append_given_up_on_before_its_turn_is_not_written() -> None:
    session = Session()
    with _appender(session) as appender:
        _held_back(session, appender)
        dropped = appender.append([{"i": 1}])
        kept = appender.append([{"i": 2}])
        assert dropped.cancel()
        session.gate.set()
        assert kept.result(WAIT) == [{"seq": 2, "i": 2}]
    assert session.statements == [("append", [0]), ("append", [2])]


def test_a_job_that_raises_anything_fails_alone_and_the_thread_goes_on() -> None:
    session = Session()

    def exits() -> None:
        raise SystemExit(3)

    with _appender(session) as appender:
        with pytest.raises(RuntimeError, match="SystemExit"):
            appender.call(exits).result(WAIT)
        assert appender.append([{"i": 1}]).result(WAIT)[0]["i"] == 1


def test_many_locks_are_taken_and_released_in_one_statement_each(database: Database) -> None:
    with locks_on(database) as mine, locks_on(database) as other:
        assert other.try_acquire("config.ex.b")
        assert mine.try_acquire_many(["config.ex.a", "config.ex.b", "config.ex.a", "config.ex.c"]) == [
            True,
            False,  # held by another process
            False,  # asked for twice: taken once
            True,
        ]
        assert mine.held == {"config.ex.a", "config.ex.c"}
        assert mine.try_acquire_many(["config.ex.a"]) == [False]  # already held by this process
        mine.release_many(["config.ex.a", "config.ex.c", "config.ex.never"])
        assert mine.held == frozenset()
        assert other.try_acquire_many(["config.ex.a", "config.ex.c"]) == [True, True]
