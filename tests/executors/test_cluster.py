"""The dask executor against a real cluster: a `dask scheduler` and two `dask worker` processes on 127.0.0.1.

Tasks run the probe job (tests/execution/builders.py) in the worker's copy of the repository; PROBE_ROOT in
their environment points the probe's records and gates back to the test's repository.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from distributed import Client

from tests.execution import builders
from tests.execution.builders import Workspace, alive, group_alive, statuses, task, wait_until
from tests.executors.daskcluster import Cluster, Relay, start_cluster

SECRET = "s3cr3t-value-from-env-4412"
MEMORY = 4 * 1024**3


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # `lane` and `bay` let a test load one chosen worker (resources pin tasks to those that have them).
    found = start_cluster(tmp_path_factory.mktemp("dask"), {"small": "lane=4", "big": f"memory={MEMORY} bay=4"})
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def ws(tmp_path: Path, cluster: Cluster) -> Iterator[Workspace]:
    cluster.ensure()
    for workspace in builders.workspace(tmp_path):
        workspace.env = {"PROBE_ROOT": str(workspace.root)}
        yield workspace


@pytest.fixture
def local_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose probes write to the repository wherever they run."""
    for workspace in builders.workspace(tmp_path):
        workspace.env = {"PROBE_ROOT": str(workspace.root)}
        yield workspace


def on(cluster: Cluster) -> tuple[str, ...]:
    return ("--dask-scheduler", cluster.address)


def started_records(ws: Workspace, run_id: str) -> dict[str, dict[str, Any]]:
    return {r["task"]: r for r in ws.ledger() if r["type"] == "task.started" and r["run"] == run_id}


def comparable(ws: Workspace, run_id: str) -> list[tuple[Any, ...]]:
    """The run's records without what differs between any two runs (ids, times, pids, paths, the worker)."""
    varying = {"v", "seq", "time", "run", "crc", "durationMs", "log", "pid", "worker", "revision", "definition"}
    records = [
        tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in r.items() if k not in varying))
        for r in ws.ledger()
        if r.get("run") == run_id
    ]
    return sorted(records)


W1 = {
    "one": [task(f"a{i}", sleep=0.3) for i in range(4)],
    "two": [task(f"b{i}", sleep=0.3) for i in range(4)],
    "three": [task(f"c{i}", sleep=0.3) for i in range(2)],
}


def test_w1_runs_on_both_workers_with_the_statuses_and_records_of_a_local_run(ws: Workspace, cluster: Cluster) -> None:
    ws.orchestrate("w1", W1)
    ws.commit()
    local, done = ws.run("w1")
    assert done.code == 0, done.err
    remote, done = ws.run("w1", *on(cluster))
    assert done.code == 0, done.out + done.err
    assert statuses(ws.show(remote)) == statuses(ws.show(local))
    assert comparable(ws, remote) == comparable(ws, local)
    addresses = cluster.worker_addresses()
    workers = {r["worker"] for r in started_records(ws, remote).values()}
    assert workers == set(addresses.values())
    assert all("worker" not in r for r in started_records(ws, local).values())
    shown = ws.inspect("show", remote).out
    assert all(f"on {w}" in shown for w in workers), shown
    assert " on tcp://" not in ws.inspect("show", local).out
    # Each task ran once.
    assert sorted(r["task"] for r in ws.probes(remote, "start")) == sorted(t["name"] for p in W1.values() for t in p)


def test_a_worker_killed_mid_task_ends_the_task_as_lost_and_nothing_runs_it_again(
    ws: Workspace, cluster: Cluster
) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="go", grandchild=True)]})
    ws.commit()
    process = ws.start("run", "daily", *on(cluster))
    wait_until(lambda: ws.probes(event="grandchild"), timeout=30, what="the task on a worker, and its child")
    (run_id,) = ws.requested()
    address = started_records(ws, run_id)["a"]["worker"]
    name = next(n for n, a in cluster.worker_addresses().items() if a == address)
    probe = ws.started("a")
    assert probe is not None
    cluster.kill_worker(name)
    done = ws.finish(process, timeout=60)
    assert done.code == 1
    shown = ws.show(run_id)
    assert statuses(shown) == {"run": "error", "one": "error", "a": "error"}
    error = shown["phases"][0]["tasks"][0]["error"]
    assert error.startswith(f"worker {address} lost while running the task; nothing runs it again"), error
    (child,) = ws.probes(event="grandchild")
    # The spawner kills the group when its worker dies; on 2 busy cores that took over 5 s once (CI).
    wait_until(lambda: not alive(probe["pid"]), timeout=30, what="the task's process to die with its worker")
    wait_until(lambda: not group_alive(probe["pgid"]), timeout=30, what="what it started in its group, too")
    assert not alive(child["child"])
    cluster.ensure()  # a worker is back: still nothing runs the task again
    ws.release("go")
    assert len(ws.probes(event="start")) == 1


def test_orchestrations_sharing_a_configuration_never_overlap_across_the_two_workers(
    ws: Workspace, cluster: Cluster
) -> None:
    ws.configure("shared/load")
    for worker, resource in (("small", "lane"), ("big", "bay")):
        for i in (1, 2):
            ws.configure(f"hog/{worker}-{i}", resources={resource: 1})
        loads = [task(f"{worker}-{i}", f"hog/{worker}-{i}", gate="free") for i in (1, 2)]
        ws.orchestrate(f"hog-{worker}", {"one": loads})
    ws.orchestrate("sales", {"one": [task("load", "shared/load", gate="go", sleep=0.2)]})
    ws.orchestrate("stock", {"one": [task("load", "shared/load", sleep=0.2)]})
    ws.commit()
    sales = ws.start("run", "sales", *on(cluster))
    wait_until(lambda: ws.started("load"), timeout=30, what="the sales run's task")
    (sales_id,) = ws.requested()
    first = started_records(ws, sales_id)["load"]["worker"]
    name = next(n for n, a in cluster.worker_addresses().items() if a == first)
    # A hog on that worker too (its 2 threads are full: the second hog waits): when the sales task ends, the
    # other worker is the less loaded one.
    hogs = ws.start("run", f"hog-{name}", *on(cluster))
    wait_until(lambda: cluster.load()[first] == 2, timeout=30, what="the tasks that load the first worker")
    stock = ws.start("run", "stock", *on(cluster))
    wait_until(lambda: len(ws.requested()) == 3, timeout=30, what="the stock run's request")
    stock_id = ws.requested()[2]
    wait_until(lambda: ws.show(stock_id)["status"] == "processing", timeout=30, what="the stock run to start")
    assert not ws.started("load", stock_id), "the stock run's task started while the sales run's held the lock"
    ws.release("go")
    assert ws.finish(sales, 60).code == 0
    assert ws.finish(stock, 60).code == 0
    ws.release("free")
    assert ws.finish(hogs, 60).code == 0
    (sales_start,) = ws.probes(sales_id, "start")
    (sales_end,) = ws.probes(sales_id, "end")
    (stock_start,) = ws.probes(stock_id, "start")
    assert stock_start["wall"] >= sales_end["wall"] > sales_start["wall"]
    assert started_records(ws, stock_id)["load"]["worker"] != first


def test_cancel_kills_the_remote_process_group(ws: Workspace, cluster: Cluster) -> None:
    ws.orchestrate("daily", {"one": [task("a", gate="never", grandchild=True)]})
    ws.commit()
    process = ws.start("run", "daily", *on(cluster))
    wait_until(lambda: ws.probes(event="grandchild"), timeout=30, what="the task and its child")
    (run_id,) = ws.requested()
    probe, (child,) = ws.started("a"), ws.probes(event="grandchild")
    assert probe is not None
    assert ws.orchrecon("cancel", run_id).code == 0
    done = ws.finish(process, timeout=30)
    assert done.code == 1
    assert statuses(ws.show(run_id))["a"] == "terminated"
    assert not alive(probe["pid"])
    assert not alive(child["child"])
    assert not group_alive(probe["pgid"])
    log = (ws.state / "logs" / run_id / "a.log").read_text(encoding="utf-8")
    assert "[orchrecon] cancelled; the process group was killed on tcp://127.0.0.1:" in log


def test_a_task_cancelled_while_it_waits_for_room_on_a_worker_never_starts(ws: Workspace, cluster: Cluster) -> None:
    for i in (1, 2):
        ws.configure(f"hog/{i}", resources={"lane": 1})
    ws.configure("ex/lane", resources={"lane": 1})
    ws.orchestrate("hog", {"one": [task(f"hog-{i}", f"hog/{i}", gate="free") for i in (1, 2)]})
    ws.orchestrate("daily", {"one": [task("a", "ex/lane")]})
    ws.commit()
    small = cluster.worker_addresses()["small"]
    hogs = ws.start("run", "hog", *on(cluster))
    wait_until(lambda: cluster.load()[small] == 2, timeout=30, what="the hogs on both of the small worker's threads")
    process = ws.start("run", "daily", *on(cluster))
    wait_until(lambda: len(ws.requested()) == 2, timeout=30, what="the daily run's request")
    run_id = ws.requested()[1]
    wait_until(lambda: ws.show(run_id)["status"] == "processing", timeout=30, what="the daily run to start")
    assert ws.orchrecon("cancel", run_id).code == 0
    # It ends while the hogs still fill the worker: the cancel stopped the wait, not the room it waited for.
    done = ws.finish(process, timeout=30)
    assert done.code == 1, done.out + done.err
    assert cluster.load()[small] == 2
    ws.release("free")
    assert ws.finish(hogs, 60).code == 0
    assert ws.show(run_id)["status"] == "terminated"
    assert not any(r["type"] == "task.started" and r["run"] == run_id for r in ws.ledger())
    assert not ws.started("a", run_id)


def test_a_timeout_kills_the_remote_process_group(ws: Workspace, cluster: Cluster) -> None:
    ws.configure("ex/slow", parameters={"gate": "never", "grandchild": True}, timeout="1s")
    ws.orchestrate("daily", {"one": [task("slow", "ex/slow")]})
    ws.commit()
    # The deployment's variable instead of the option.
    done = ws.finish(ws.start("run", "daily", env={"ORCHRECON_DASK_SCHEDULER": cluster.address}), timeout=30)
    assert done.code == 1
    (run_id,) = ws.requested()
    assert started_records(ws, run_id)["slow"]["worker"] in cluster.worker_addresses().values()
    shown = ws.show(run_id)
    assert statuses(shown)["slow"] == "error"
    assert shown["phases"][0]["tasks"][0]["error"] == "timed out after 1s"
    probe, (child,) = ws.started("slow"), ws.probes(event="grandchild")
    assert probe is not None
    assert not alive(probe["pid"])
    assert not alive(child["child"])
    assert not group_alive(probe["pgid"])


def test_output_arrives_while_the_task_runs_redacted_and_no_secret_reaches_dask(
    ws: Workspace, cluster: Cluster
) -> None:
    ws.env["SECRET_VALUE"] = {"fromEnv": "TEST_SECRET"}
    ws.orchestrate("daily", {"one": [task("a", gate="go", print="SECRET_VALUE")]})
    ws.commit()
    process = ws.start("run", "daily", *on(cluster), env={"TEST_SECRET": SECRET})
    wait_until(ws.requested, timeout=30, what="the request")
    (run_id,) = ws.requested()
    log = ws.state / "logs" / run_id / "a.log"

    def printed() -> str:
        return log.read_text(encoding="utf-8") if log.exists() else ""

    wait_until(lambda: "has SECRET_VALUE" in printed(), timeout=30, what="the task's output, before it ends")
    assert not ws.probes(event="end")
    ws.release("go")
    assert ws.finish(process, timeout=30).code == 0
    text = printed()
    assert "probe a has token ***" in text
    assert "probe a has SECRET_VALUE = ***" in text
    token = (ws.state / "secrets").rglob("*")
    secrets = [SECRET, *(p.read_text(encoding="utf-8").strip() for p in token if p.is_file())]
    secrets = [s for s in secrets if len(s) >= 8]
    assert len(secrets) >= 2
    events = _scheduler_events(cluster)
    assert f"{run_id}/a/1" in events  # the output went this way
    assert "has SECRET_VALUE = ***" in events
    seen = {
        "the ledger": b"".join(p.read_bytes() for p in (ws.state / "ledger").glob("*.jsonl")).decode(),
        "the task log": text,
        "Dask's task keys": "\n".join(_scheduler_keys(cluster)),
        "the scheduler's events": events,
        "Dask's logs": cluster.logs(),
    }
    for where, content in seen.items():
        for secret in secrets:
            assert secret not in content, f"a secret in {where}"


def _scheduler_events(cluster: Cluster) -> str:
    """Every event the scheduler keeps, of every topic (the task's output passed through them), as text."""

    def events(dask_scheduler: Any) -> str:
        return repr(dask_scheduler.get_events())

    with Client(cluster.address, timeout=30) as client:
        found: str = client.run_on_scheduler(events)
    return found


def _scheduler_keys(cluster: Cluster) -> list[str]:
    """Every key the scheduler's transitions have seen (its log keeps them after the tasks are forgotten)."""

    def keys(dask_scheduler: Any) -> list[str]:
        return sorted({str(entry[0]) for entry in dask_scheduler.transition_log})

    with Client(cluster.address, timeout=30) as client:
        found: list[str] = client.run_on_scheduler(keys)
    return found


def test_resources_route_a_task_only_to_the_worker_that_has_them(ws: Workspace, cluster: Cluster) -> None:
    ws.configure("ex/heavy", resources={"memory": "4GiB"})
    ws.configure("ex/huge", resources={"memory": "8GiB"})
    ws.orchestrate("heavy", {"one": [task(f"h{i}", "ex/heavy", sleep=0.1) for i in range(4)]})
    ws.orchestrate("huge", {"one": [task("x", "ex/huge")]})
    ws.commit()
    run_id, done = ws.run("heavy", *on(cluster))
    assert done.code == 0, done.out + done.err
    big = cluster.worker_addresses()["big"]
    assert {r["worker"] for r in started_records(ws, run_id).values()} == {big}
    run_id, done = ws.run("huge", *on(cluster))
    assert done.code == 1
    error = ws.show(run_id)["phases"][0]["tasks"][0]["error"]
    assert error == f"no Dask worker offers the resources ex/huge needs (memory={8 * 1024**3:g})"
    assert not ws.started("x")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_scheduler_down_at_start_fails_the_tasks_fast_with_the_reason(local_ws: Workspace) -> None:
    ws = local_ws
    # Both go on failure: each is started, and each fails with the reason (one attempt to connect, shared).
    ws.orchestrate("daily", {"one": [task("a", continue_on_failure=True), task("b", continue_on_failure=True)]})
    ws.commit()
    address = f"tcp://127.0.0.1:{_free_port()}"
    began = time.monotonic()
    run_id, done = ws.run("daily", "--dask-scheduler", address)
    assert time.monotonic() - began < 15
    shown = ws.show(run_id)
    assert statuses(shown) == {"run": "warning", "one": "warning", "a": "error", "b": "error"}
    assert done.code == 0
    errors = {t["name"]: t["error"] for t in shown["phases"][0]["tasks"]}
    assert all(e.startswith(f"Dask scheduler {address} unreachable: ") for e in errors.values()), errors
    assert not ws.probes()


def test_a_scheduler_killed_mid_run_ends_the_task_with_its_worker_and_no_hang(
    local_ws: Workspace, tmp_path: Path
) -> None:
    ws = local_ws
    own = start_cluster(tmp_path / "dask", {"only": ""})
    try:
        ws.orchestrate("daily", {"one": [task("a", gate="never")], "two": [task("b")]})
        ws.commit()
        process = ws.start("run", "daily", "--dask-scheduler", own.address)
        wait_until(lambda: ws.started("a"), timeout=30, what="the task on the worker")
        (run_id,) = ws.requested()
        probe = ws.started("a")
        assert probe is not None
        worker = own.worker_addresses()["only"]
        own.kill_scheduler()
        done = ws.finish(process, timeout=30)
        assert done.code == 1
        shown = ws.show(run_id)
        expected = {"run": "error", "one": "error", "a": "error", "two": "not-executed", "b": "not-executed"}
        assert statuses(shown) == expected
        # A worker stops when its scheduler goes, and its command with it, before the configuration is let go.
        error = shown["phases"][0]["tasks"][0]["error"]
        assert error.startswith(f"worker {worker} lost while running the task; nothing runs it again"), error
        assert not alive(probe["pid"])
    finally:
        own.stop()


def test_a_lost_connection_to_the_worker_keeps_the_configuration_locked_while_the_worker_runs_it(
    local_ws: Workspace, tmp_path: Path
) -> None:
    ws = local_ws
    own = start_cluster(tmp_path / "dask", {})
    relay = Relay(("127.0.0.1", _free_port()))
    try:
        own.start_worker("only", behind=relay)
        own.wait_for_workers()
        ws.orchestrate("daily", {"one": [task("a", gate="go")]})
        ws.commit()
        process = ws.start("run", "daily", "--dask-scheduler", own.address)
        wait_until(lambda: ws.started("a"), timeout=30, what="the task on the worker")
        (run_id,) = ws.requested()
        relay.reset()

        def finished() -> dict[str, Any] | None:
            return next((r for r in ws.ledger() if r["type"] == "task.finished"), None)

        wait_until(finished, timeout=30, what="the task's end")
        record = finished()
        assert record is not None
        assert record["status"] == "error"
        assert record["error"].startswith(f"connection to worker {relay.address} lost; the task may still be running")
        # The command still runs on the worker, which says so: the run holds the configuration's lock.
        assert process.poll() is None
        assert ws.show(run_id)["status"] == "processing"
        assert not ws.probes(event="end")
        ws.release("go")
        done = ws.finish(process, timeout=30)
        assert done.code == 1
        assert ws.show(run_id)["status"] == "error"
        assert f"task a keeps configuration ex/a locked until {relay.address} says its command ended" in done.out
        ends = ws.probes(event="end")
        assert len(ends) == 1  # it ran to its end, once, before the configuration was let go
        finished_at = next(r for r in ws.ledger() if r["type"] == "run.finished")["time"]
        assert finished_at > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ends[0]["wall"] - 1))
    finally:
        relay.cut()
        own.stop()


def test_the_reconciler_status_says_whether_the_cluster_is_reachable_and_how_many_workers_it_has(
    ws: Workspace, cluster: Cluster
) -> None:
    schema = json.loads((Path(__file__).parents[2] / "schema" / "reconciler-status.schema.json").read_text())
    ws.orchestrate("daily", {"one": [task("a")]})
    ws.commit()
    down = f"tcp://127.0.0.1:{_free_port()}"
    status = ws.state / "status" / "_reconciler.json"

    def cluster_status() -> dict[str, Any] | None:
        try:
            found: dict[str, Any] | None = json.loads(status.read_text(encoding="utf-8")).get("cluster")
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return found

    for address, reachable in ((cluster.address, True), (down, False)):
        status.unlink(missing_ok=True)
        process = ws.start("reconcile", "--dask-scheduler", address)
        wait_until(
            lambda: (
                (cluster_status() or {}).get("error", "").startswith("Dask scheduler")
                or (cluster_status() or {}).get("reachable")
            ),
            timeout=30,
            what="the cluster's status",
        )
        process.send_signal(signal.SIGTERM)
        assert ws.finish(process, timeout=30).code == 0
        found = cluster_status()
        assert found is not None
        jsonschema.validate(json.loads(status.read_text(encoding="utf-8")), schema)
        if reachable:
            assert found == {"scheduler": address, "reachable": True, "workers": 2, "tasks": 0}
        else:
            assert found["reachable"] is False
            assert found["workers"] == 0
            assert found["error"].startswith(f"Dask scheduler {down} unreachable: ")
