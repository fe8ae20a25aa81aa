from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchrecon.store.ledger import Ledger
from orchrecon.store.postgresql.database import Database, DatabaseError
from orchrecon.store.postgresql.ledger import READ_BATCH, FencedError, TableLedger
from orchrecon.store.postgresql.locks import AdvisoryLocks
from orchrecon.store.records import Record, encode
from tests.clocks import FakeClock
from tests.conftest import ROOT
from tests.store.postgresql.polling import eventually


@pytest.fixture
def ledger(database: Database) -> Iterator[TableLedger]:
    table = TableLedger(database, FakeClock())
    yield table
    table.close()


def _seqs(ledger: TableLedger) -> list[int]:
    return [r["seq"] for r in ledger.read()]


def test_records_are_the_jsonl_ledgers_byte_for_byte_with_the_checksum_added(
    ledger: TableLedger, tmp_path: Path
) -> None:
    groups: list[list[dict[str, Any]]] = [
        [{"type": "run.requested", "run": "r1", "orchestration": "o", "phases": [["a", "b"]], "n": 1.5}],
        [{"type": "task.finished", "run": "r1", "task": "a", "status": "succeeded", "note": "é ✓ \u2028 \x00"}],
        [{"type": "a", "nested": {"z": 1, "a": [None, True]}}, {"type": "b"}],
    ]
    jsonl = Ledger(tmp_path / "ledger", FakeClock())
    for group in groups:
        assert ledger.append(group) == jsonl.append(group)
    assert b"".join(encode(r) for r in ledger.read()) == (tmp_path / "ledger" / "00000001.jsonl").read_bytes()


def test_seq_continues_across_instances_and_reads_start_after_a_seq(database: Database, ledger: TableLedger) -> None:
    ledger.append([{"type": "a"}, {"type": "b"}])
    other = TableLedger(database, FakeClock())
    assert other.append_one("c")["seq"] == 3
    other.close()
    assert ledger.append_one("d")["seq"] == 4
    assert [r["type"] for r in ledger.read(after_seq=2)] == ["c", "d"]
    assert ledger.last_seq() == 4
    assert ledger.append([]) == []


def test_a_read_crosses_batches(ledger: TableLedger) -> None:
    ledger.append([{"type": "x", "i": i} for i in range(READ_BATCH * 2 + 5)])
    assert _seqs(ledger) == list(range(1, READ_BATCH * 2 + 6))


def test_concurrent_appenders_never_let_a_reader_see_a_gap(database: Database, ledger: TableLedger) -> None:
    appenders, groups = 6, 40
    done = threading.Event()
    seen: list[list[int]] = []

    def appending(n: int) -> None:
        table = TableLedger(database, FakeClock())
        for g in range(groups):
            table.append([{"type": "x", "group": f"{n}.{g}", "i": i} for i in range(1 + g % 3)])
        table.close()

    def reading() -> None:
        table = TableLedger(database, FakeClock())
        while not done.is_set():
            seen.append(_seqs(table))
        table.close()

    threads = [threading.Thread(target=appending, args=(n,)) for n in range(appenders)]
    reader = threading.Thread(target=reading)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    final = list(ledger.read())
    assert [r["seq"] for r in final] == list(range(1, appenders * sum(1 + g % 3 for g in range(groups)) + 1))
    assert len(seen) > 10
    assert all(s == list(range(1, len(s) + 1)) for s in seen)
    firsts = [r for r in final if r["i"] == 0]
    for first in firsts:  # a group's records are consecutive, in the order given
        size = 1 + int(first["group"].split(".")[1]) % 3
        group = final[first["seq"] - 1 : first["seq"] - 1 + size]
        assert [(r["group"], r["i"]) for r in group] == [(first["group"], i) for i in range(size)]


def test_appending_processes_never_let_a_reader_see_a_gap(postgres_url: str, ledger: TableLedger) -> None:
    argv = [sys.executable, "-m", "tests.store.postgresql.appender", postgres_url]
    processes = [subprocess.Popen([*argv, f"p{n}", "60"], cwd=ROOT) for n in range(3)]
    reads = 0
    while any(p.poll() is None for p in processes) or reads == 0:
        seqs = _seqs(ledger)
        assert seqs == list(range(1, len(seqs) + 1))
        reads += 1
    assert [p.wait() for p in processes] == [0, 0, 0]
    assert _seqs(ledger) == list(range(1, 3 * sum(1 + g % 3 for g in range(60)) + 1))


def test_a_guarded_append_by_the_leader_is_written(database: Database, ledger: TableLedger) -> None:
    locks = AdvisoryLocks(database)
    epoch = locks.take_leadership()
    assert epoch == 1
    assert [r["seq"] for r in ledger.append_guarded([{"type": "a"}, {"type": "b"}], epoch)] == [1, 2]
    assert ledger.append_guarded([], epoch) == []
    locks.close()


def test_a_deposed_leaders_append_is_fenced_and_writes_nothing(database: Database, ledger: TableLedger) -> None:
    old, new = AdvisoryLocks(database), AdvisoryLocks(database)
    stale = old.take_leadership()
    assert stale is not None
    ledger.append_guarded([{"type": "a"}], stale)
    assert new.take_leadership() is None  # the old leader still holds the lock
    old.close()
    eventually(lambda: new.take_leadership() is not None, "the new reconciler leads")
    with pytest.raises(FencedError) as caught:
        ledger.append_guarded([{"type": "b"}, {"type": "c"}], stale)
    assert (caught.value.epoch, caught.value.current) == (1, 2)
    assert "epoch is 1, the database's is 2" in str(caught.value)
    assert _seqs(ledger) == [1]
    assert ledger.last_seq() == 1
    assert ledger.append_guarded([{"type": "d"}], 2)[0]["seq"] == 2  # the fenced attempt left no gap
    new.close()


def test_a_new_leaders_epoch_waits_for_the_guarded_appends_in_flight(database: Database) -> None:
    epochs: list[int | None] = []
    locks = AdvisoryLocks(database)
    with database.connect() as in_flight:
        with in_flight.transaction():
            in_flight.execute("SELECT epoch FROM orchrecon.leadership FOR SHARE")  # as a guarded append does first
            leading = threading.Thread(target=lambda: epochs.append(locks.take_leadership()))
            leading.start()
            eventually(lambda: _blocked(database), "the epoch increment waits for the row")
            assert epochs == []
            in_flight.execute("SELECT 1")  # the append goes on, then commits
        leading.join()
    assert epochs == [1]
    locks.close()


def _blocked(database: Database) -> bool:
    with database.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)"
            " WHERE NOT granted AND datname = current_database()"
        )
        row = conn.execute(query).fetchone()
    return row is not None and row[0] > 0


def test_racing_deciders_take_a_decision_once(database: Database, ledger: TableLedger) -> None:
    ledger.append_one("before")
    barrier = threading.Barrier(8)
    results: list[tuple[list[Record], int]] = []

    def fire(seen: list[Record]) -> list[dict[str, Any]]:
        if any(r.get("key") == "s@09:00" for r in seen):
            return []
        return [{"type": "schedule.fired", "schedule": "s", "slot": "09:00", "key": "s@09:00"}]

    def deciding() -> None:
        table = TableLedger(database, FakeClock())
        barrier.wait()
        results.append(table.append_decided(1, fire))
        table.close()

    threads = [threading.Thread(target=deciding) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["type"] for r in ledger.read()] == ["before", "schedule.fired"]
    assert sorted(len(written) for written, _ in results) == [0] * 7 + [1]
    assert {last for _, last in results} == {2}


def test_a_decided_append_sees_only_what_came_after_its_seq_and_can_be_fenced(
    database: Database, ledger: TableLedger
) -> None:
    ledger.append([{"type": "a"}, {"type": "b"}])
    seen: list[list[str]] = []

    def decide(records: list[Record]) -> list[dict[str, Any]]:
        seen.append([r["type"] for r in records])
        return [{"type": "c"}]

    assert ledger.append_decided(1, decide)[1] == 3
    assert ledger.append_decided(3, decide, epoch=0)[1] == 4
    with pytest.raises(FencedError):
        ledger.append_decided(4, decide, epoch=1)
    assert seen == [["b"], []]
    assert ledger.last_seq() == 4


_FOLLOWER = "SELECT record FROM orchrecon.ledger%"  # a follower waiting for a NOTIFY: its last statement read


def _listening(database: Database) -> bool:
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        f" WHERE query LIKE '{_FOLLOWER}' AND state = 'idle' AND datname = current_database()"
    )
    with database.connect() as conn:
        row = conn.execute(query).fetchone()
    return row is not None and row[0] == 1


def test_a_follower_gets_the_past_then_is_woken_by_each_append(database: Database, ledger: TableLedger) -> None:
    ledger.append([{"type": "old"}])
    got: list[Record] = []
    ended: list[DatabaseError] = []

    def following() -> None:
        try:
            got.extend(ledger.follow(idle_timeout=60))
        except DatabaseError as exc:
            ended.append(exc)

    follower = threading.Thread(target=following, daemon=True)
    follower.start()
    eventually(lambda: len(got) == 1 and _listening(database), "the follower read the past and waits")
    ledger.append([{"type": "new"}, {"type": "newer"}])
    eventually(lambda: len(got) == 3, "the NOTIFY woke the follower (long before its 60 s idle timeout)")
    assert [r["type"] for r in got] == ["old", "new", "newer"]
    with database.connect() as conn:  # end its wait: its connection is terminated
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE query LIKE '{_FOLLOWER}' AND datname = current_database()"
        )
    follower.join(timeout=15)
    assert not follower.is_alive()
    assert str(ended[0]).startswith("cannot follow the ledger in postgresql://orchrecon@127.0.0.1:")


def test_a_follow_ends_when_nothing_new_comes_within_its_idle_timeout(ledger: TableLedger) -> None:
    ledger.append([{"type": "a"}])
    follow = ledger.follow(after_seq=0, idle_timeout=0.05)
    assert [r["seq"] for r in follow] == [1]


def test_an_append_on_a_lost_connection_fails_then_the_next_one_reconnects(
    ledger: TableLedger, database: Database
) -> None:
    ledger.append_one("a")
    with database.connect() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    with pytest.raises(
        DatabaseError, match=r"^cannot append to the ledger in postgresql://orchrecon@127\.0\.0\.1:\d+/t_\d+: "
    ):
        ledger.append_one("b")
    assert ledger.append_one("c")["seq"] == 2


def test_the_records_of_a_failed_append_are_not_in_the_table(ledger: TableLedger, database: Database) -> None:
    ledger.append_one("a")
    with database.connect() as conn:
        conn.execute("INSERT INTO orchrecon.ledger (seq, record) VALUES (3, '{}')")  # an import gone wrong
    ledger.append_one("b")
    with pytest.raises(DatabaseError, match="duplicate key"):
        ledger.append([{"type": "c"}, {"type": "d"}])
    with database.connect() as conn:
        assert conn.execute("SELECT seq FROM orchrecon.ledger_head").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM orchrecon.ledger").fetchone() == (3,)
