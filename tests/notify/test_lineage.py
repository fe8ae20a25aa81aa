"""OpenLineage events of every task attempt, to a real HTTP receiver on 127.0.0.1 and to a file, validated against
the OpenLineage JSON Schemas (tests/openlineage/spec); a dead receiver costs a run no more than a second."""

from __future__ import annotations

import json
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from orchrecon.notify.lineage import run_uuid, task_uuid
from tests.execution.builders import Workspace, task
from tests.notify import receivers

SPEC = Path(__file__).parents[1] / "openlineage" / "spec"


def _registry() -> Registry:
    resources = [Resource.from_contents(json.loads(p.read_text())) for p in sorted(SPEC.glob("*.json"))]
    return Registry().with_resources((r.id() or "", r) for r in resources)


def assert_valid(event: dict[str, Any]) -> None:
    """The event against OpenLineage.json, and each of its facets against the schema its `_schemaURL` names."""
    registry = _registry()
    run_event = {"$ref": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}
    jsonschema.Draft202012Validator(run_event, registry=registry).validate(event)
    facets = [*event["run"]["facets"].values(), *event["job"]["facets"].values()]
    for facet in facets:
        jsonschema.Draft202012Validator({"$ref": facet["_schemaURL"]}, registry=registry).validate(facet)


def _daily(ws: Workspace) -> None:
    ws.configure("ex/a", outputs=["in.c-shop.orders"])
    config = ws.root / "configurations/ex/a.yaml"
    config.write_text(config.read_text() + "  inputs: [in.c-api.orders-raw]\n")
    ws.configure("ex/b", parameters={"exit": 3})
    ws.orchestrate(
        "daily",
        {"extract": [task("a"), task("b", continue_on_failure=True)], "load": [task("c")]},
    )
    ws.commit()


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((e["job"]["name"], e["eventType"]) for e in events)


EXPECTED = [
    ("daily.a", "COMPLETE"),
    ("daily.a", "START"),
    ("daily.b", "FAIL"),
    ("daily.b", "START"),
    ("daily.c", "COMPLETE"),
    ("daily.c", "START"),
]


def test_a_run_with_a_failed_task_sends_valid_events_to_an_http_receiver(ws: Workspace) -> None:
    _daily(ws)
    with receivers.webhook() as receiver:
        run_id, done = ws.run("daily", "--openlineage-url", f"http://127.0.0.1:{receiver.port}")
        events = receiver.bodies()
        paths = {path for path, _ in receiver.received}
    assert done.code == 0, done.err
    assert paths == {"/api/v1/lineage"}
    assert _summary(events) == EXPECTED
    for event in events:
        assert_valid(event)
        assert event["job"]["namespace"] == "orchrecon"
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == str(run_uuid(run_id))
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("orchrecon", "daily")
        task_name = event["job"]["name"].split(".", 1)[1]
        assert event["run"]["runId"] == str(task_uuid(run_id, task_name))
        assert uuid.UUID(event["run"]["runId"])
        location = event["job"]["facets"]["sourceCodeLocation"]
        assert (location["type"], location["version"]) == ("git", ws.show(run_id)["revision"])
    by_key = {(e["job"]["name"], e["eventType"]): e for e in events}
    assert [d["name"] for d in by_key[("daily.a", "COMPLETE")]["outputs"]] == ["in.c-shop.orders"]
    assert [d["name"] for d in by_key[("daily.a", "START")]["inputs"]] == ["in.c-api.orders-raw"]
    failed = by_key[("daily.b", "FAIL")]["run"]["facets"]["errorMessage"]
    assert failed["message"] == "exited with code 3: probe b ends with token *** and exit code 3"  # as recorded
    assert "errorMessage" not in by_key[("daily.a", "COMPLETE")]["run"]["facets"]


def test_the_file_transport_appends_the_same_events_one_per_line(ws: Workspace, tmp_path: Path) -> None:
    _daily(ws)
    file = tmp_path / "lineage.jsonl"
    _, done = ws.run("daily", "--openlineage-file", str(file))
    assert done.code == 0, done.err
    events = [json.loads(line) for line in file.read_text().splitlines()]
    assert _summary(events) == EXPECTED
    for event in events:
        assert_valid(event)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("receiver", ["refuses connections", "never answers"])
def test_a_dead_receiver_costs_the_run_at_most_a_second_and_is_said_once(ws: Workspace, receiver: str) -> None:
    _daily(ws)
    ws.run("daily")  # warm: the index and the interpreter's caches, as the timed runs find them
    start = time.monotonic()
    _, plain = ws.run("daily")
    baseline = time.monotonic() - start
    with receivers.webhook(hang=True) as hanging:
        port = _closed_port() if receiver == "refuses connections" else hanging.port
        start = time.monotonic()
        run_id, done = ws.run("daily", "--openlineage-url", f"http://127.0.0.1:{port}/key/s3cr3t-path")
        took = time.monotonic() - start
        hanging.release.set()
    assert (plain.code, done.code) == (0, 0)
    assert took - baseline < 1.0, f"{took:.2f} s with a dead receiver, {baseline:.2f} s without"
    warnings = [line for line in done.err.splitlines() if "openlineage" in line]
    assert warnings, done.err
    assert warnings[0].startswith(f"orchrecon: warning: openlineage: http://127.0.0.1:{port} did not take an event")
    assert len([w for w in warnings if "at most once a minute" in w]) <= 2  # the first failure, and the exit's count
    assert "s3cr3t" not in done.err
    recorded = [r for r in ws.ledger() if r["type"] == "lineage.undelivered"]
    assert recorded
    assert recorded[0]["receiver"] == f"http://127.0.0.1:{port}"
    assert b"s3cr3t" not in ws.ledger_bytes()
    assert ws.show(run_id)["status"] == "warning"  # as without lineage: b failed, and continues on failure


def test_only_the_commands_that_run_tasks_look_at_openlineage_url(ws: Workspace) -> None:
    _daily(ws)
    run_id, _ = ws.run("daily")
    env = {"OPENLINEAGE_URL": "http://marquez:notaport/api-key-123"}
    done = ws.finish(ws.start("runs", env=env))
    assert (done.code, done.err) == (0, "")
    assert run_id in done.out
    refused = ws.finish(ws.start("run", "daily", env=env))
    assert refused.code == 2
    assert refused.err == "orchrecon: error: OPENLINEAGE_URL / --openlineage-url is not a URL (its port?)\n"
    assert ws.requested() == [run_id]  # refused before anything was recorded


def test_a_url_that_is_not_http_is_one_line_without_the_url(ws: Workspace) -> None:
    _daily(ws)
    run = ws.finish(ws.start("run", "daily", "--openlineage-url", "marquez.internal:5000/key-456"))
    assert run.code == 2
    assert (
        run.err
        == "orchrecon: error: OPENLINEAGE_URL / --openlineage-url is not an http:// or https:// URL with a host\n"
    )
