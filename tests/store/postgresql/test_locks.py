from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.locks import (
    LEADERSHIP,
    AdvisoryLocks,
    PoolingProxyError,
    SessionEndedError,
    lock_keys,
)
from tests.conftest import ROOT
from tests.pgserver import PostgresServer, transaction_pooler
from tests.store.postgresql.polling import eventually
from tests.store.postgresql.sessions import locks_on


@contextmanager
def _holder(url: str, name: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """Another process holding `name`; yields it and its session's backend pid."""
    argv = [sys.executable, "-m", "tests.store.postgresql.holder", url, name]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), f"the holder did not take {name}"
        yield process, int(line)
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _waiting(database: Database) -> int:
    """How many sessions wait for an advisory lock."""
    with database.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _queued(database: Database, count: int) -> Callable[[], bool]:
    return lambda: _waiting(database) == count


def test_keys_are_a_stable_hash_of_the_name() -> None:
    assert lock_keys("orchestration.nightly") == lock_keys("orchestration.nightly")
    assert lock_keys("orchestration.nightly") != lock_keys("orchestration.nightlz")
    assert lock_keys(LEADERSHIP) == (-2026088824, 380365537)  # never changes: old and new versions must agree
    assert all(-(2**31) <= k < 2**31 for k in lock_keys("x"))


def test_a_lock_is_held_once_within_a_process_and_across_sessions(database: Database) -> None:
    with locks_on(database) as mine, locks_on(database) as other:
        assert mine.try_acquire("config.ex.a")
        assert not mine.try_acquire("config.ex.a")
        assert not other.try_acquire("config.ex.a")
        assert other.try_acquire("config.ex.b")
        mine.release("config.ex.a")
        assert other.try_acquire("config.ex.a")
        assert other.held == {"config.ex.a", "config.ex.b"}
        mine.release("config.ex.a")  # not held: nothing happens


def test_a_waiting_acquire_gets_the_lock_when_it_is_released(database: Database) -> None:
    async def scenario(holder: AdvisoryLocks, waiter: AdvisoryLocks) -> bool:
        waiting = asyncio.ensure_future(waiter.acquire("orchestration.o"))
        await asyncio.to_thread(eventually, lambda: _waiting(database) == 1, "the waiter queues")
        assert not waiting.done()
        holder.release("orchestration.o")
        return await asyncio.wait_for(waiting, 15)

    with locks_on(database) as holder, locks_on(database) as waiter:
        assert holder.try_acquire("orchestration.o")
        assert asyncio.run(scenario(holder, waiter))
        assert not holder.try_acquire("orchestration.o")
        waiter.release("orchestration.o")
        assert holder.try_acquire("orchestration.o")


def test_waiters_get_the_lock_in_the_order_they_asked(database: Database) -> None:
    order: list[int] = []

    async def waiting(n: int, locks: AdvisoryLocks) -> None:
        assert await locks.acquire("orchestration.o")
        order.append(n)
        locks.release("orchestration.o")

    async def scenario(holder: AdvisoryLocks, waiters: list[AdvisoryLocks]) -> None:
        tasks = []
        for n, locks in enumerate(waiters):
            tasks.append(asyncio.ensure_future(waiting(n, locks)))
            await asyncio.to_thread(eventually, _queued(database, n + 1), f"waiter {n} queues")
        holder.release("orchestration.o")
        await asyncio.wait_for(asyncio.gather(*tasks), 15)

    with locks_on(database) as holder, locks_on(database) as a, locks_on(database) as b, locks_on(database) as c:
        assert holder.try_acquire("orchestration.o")
        asyncio.run(scenario(holder, [a, b, c]))
    assert order == [0, 1, 2]


def test_a_waiting_acquire_returns_false_when_told_to_stop(database: Database) -> None:
    stopping = False

    async def scenario(waiter: AdvisoryLocks) -> bool:
        nonlocal stopping
        waiting = asyncio.ensure_future(waiter.acquire("orchestration.o", stop=lambda: stopping))
        await asyncio.to_thread(eventually, lambda: _waiting(database) == 1, "the waiter queues")
        stopping = True
        return await asyncio.wait_for(waiting, 15)

    with locks_on(database) as holder, locks_on(database) as waiter:
        assert holder.try_acquire("orchestration.o")
        assert not asyncio.run(scenario(waiter))
        assert _waiting(database) == 0
        assert waiter.held == frozenset()


def test_a_killed_process_frees_its_locks(database: Database, postgres_url: str) -> None:
    with locks_on(database) as mine, _holder(postgres_url, "config.ex.a") as (process, _):
        assert not mine.try_acquire("config.ex.a")
        process.kill()
        eventually(lambda: mine.try_acquire("config.ex.a"), "the dead holder's lock is free")


def test_a_terminated_connection_frees_its_locks(database: Database, postgres_url: str) -> None:
    with locks_on(database) as mine, _holder(postgres_url, "config.ex.a") as (process, pid):
        assert not mine.try_acquire("config.ex.a")
        with database.connect() as conn:
            assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        eventually(lambda: mine.try_acquire("config.ex.a"), "the terminated session's lock is free")
        assert process.poll() is None  # the process lives on, without its lock


def test_locks_lost_with_their_session_are_reported_and_can_be_taken_again(database: Database) -> None:
    with locks_on(database) as mine, locks_on(database) as other:
        assert mine.try_acquire("config.ex.a")
        assert mine.try_acquire("config.ex.b")
        assert other.try_acquire("orchestration.o")
        assert asyncio.run(_acquire_when_released(mine, other, "orchestration.o"))
        assert mine.lost() == frozenset()
        with database.connect() as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (mine.backend_pid(),))
        eventually(lambda: other.try_acquire("config.ex.a"), "the terminated session's lock is free")
        assert mine.lost() == {"config.ex.a", "config.ex.b"}  # the lock taken after a wait has its own session
        assert mine.held == {"orchestration.o"}
        assert mine.try_acquire("config.ex.b")  # on a new connection


async def _acquire_when_released(waiter: AdvisoryLocks, holder: AdvisoryLocks, name: str) -> bool:
    waiting = asyncio.ensure_future(waiter.acquire(name))
    await asyncio.sleep(0)  # the waiter found it taken and goes to wait on a connection of its own
    holder.release(name)
    return await asyncio.wait_for(waiting, 15)


def test_leadership_increments_the_epoch_for_each_new_leader(database: Database) -> None:
    with locks_on(database) as first, locks_on(database) as second:
        assert first.take_leadership() == 1
        assert second.take_leadership() is None
        assert first.take_leadership() is None  # already leading: no second epoch
        first.release(LEADERSHIP)
        assert second.take_leadership() == 2


def test_a_standby_waiting_for_the_leadership_leads_when_the_leader_dies(database: Database, postgres_url: str) -> None:
    async def standing_by(standby: AdvisoryLocks, leader: subprocess.Popen[str]) -> int | None:
        waiting = asyncio.ensure_future(standby.acquire_leadership())
        await asyncio.to_thread(eventually, lambda: _waiting(database) == 1, "the standby queues")
        leader.kill()
        return await asyncio.wait_for(waiting, 15)

    with locks_on(database) as standby, _holder(postgres_url, LEADERSHIP) as (process, _):
        assert standby.take_leadership() is None
        assert asyncio.run(standing_by(standby, process)) == 1  # the holder took the lock, not the epoch


def test_the_repr_names_the_database_and_the_locks_held(database: Database) -> None:
    with locks_on(database) as locks:
        locks.try_acquire("config.ex.a")
        assert repr(locks) == f"AdvisoryLocks({database.shown!r}, held=['config.ex.a'])"


def test_a_transaction_pooling_proxy_is_refused(postgres_server: PostgresServer) -> None:
    with transaction_pooler(postgres_server) as url, locks_on(Database(url)) as locks:
        assert locks.try_acquire("config.ex.a")
        with psycopg.connect(url, autocommit=True) as other, other.transaction():
            other.execute("SELECT 1")  # holds the server session our statements just used
            with pytest.raises(PoolingProxyError) as caught:
                locks.try_acquire("config.ex.b")
    assert "reached two server sessions" in str(caught.value)
    assert "a transaction-pooling proxy (PgBouncer in transaction mode) is in between" in str(caught.value)


def test_a_lock_asked_for_on_an_ended_session_says_the_session_ended(database: Database) -> None:
    # A leader whose session was terminated learns it from its next lock statement as from its next append
    # (NotLeaderError, which makes it step down), not as a database error that would stop it another way.
    with locks_on(database) as mine:
        assert mine.try_acquire(LEADERSHIP)
        with database.connect() as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (mine.backend_pid(),))
        with pytest.raises(SessionEndedError, match="ended while it held 1 lock"):
            mine.try_acquire("orchestration.o")
        assert mine.held == frozenset()
        with pytest.raises(SessionEndedError):
            mine.session()
