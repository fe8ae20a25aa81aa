"""What a command task is given: its run's identity, merged parameters and the orchestration token."""

from __future__ import annotations

import json
import stat

from tests.execution.builders import Workspace, task, wait_until


def tokens(ws: Workspace) -> dict[tuple[str, str], str]:
    """The ORCHRECON_TOKEN each task saw, by (run, task)."""
    return {(r["run"], r["task"]): r["env"]["ORCHRECON_TOKEN"] for r in ws.probes(event="start")}


def test_each_task_gets_its_run_identity_and_deep_merged_parameters(ws: Workspace) -> None:
    ws.configure("ex-shop/orders", parameters={"window": {"days": 7, "unit": "day"}, "incremental": True})
    ws.orchestrate("daily", {"one": [task("orders", "ex-shop/orders", window={"days": 3}), task("other")]})
    run_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    start = ws.started("orders", run_id)
    assert start is not None
    env = {k.removeprefix("ORCHRECON_"): v for k, v in start["env"].items()}
    assert {k: env.get(k) for k in ("RUN_ID", "ORCHESTRATION", "TASK", "CONFIG")} == {
        "RUN_ID": run_id,
        "ORCHESTRATION": "daily",
        "TASK": "orders",
        "CONFIG": "ex-shop/orders",
    }
    assert json.loads(env["PARAMETERS"]) == {
        "sleep": 0,
        "exit": 0,
        "window": {"days": 3, "unit": "day"},
        "incremental": True,
    }
    assert len(env["TOKEN"]) >= 32


def test_the_token_is_the_orchestrations_own_and_the_same_for_all_its_tasks_and_runs(ws: Workspace) -> None:
    ws.orchestrate("sales", {"one": [task("a")], "two": [task("b")]})
    ws.orchestrate("stock", {"one": [task("c")]})
    first, _ = ws.run("sales")
    second, _ = ws.run("sales")
    other, _ = ws.run("stock")
    seen = tokens(ws)
    assert seen[first, "a"] == seen[first, "b"] == seen[second, "a"] == seen[second, "b"]
    assert seen[other, "c"] != seen[first, "a"]


def test_tokens_rotate_gives_the_orchestration_a_new_token(ws: Workspace) -> None:
    ws.orchestrate("sales", {"one": [task("a")], "two": [task("b")]})
    before, _ = ws.run("sales")
    rotated = ws.orchrecon("tokens", "rotate", "sales")
    assert rotated.code == 0, rotated.err
    after, _ = ws.run("sales")
    seen = tokens(ws)
    assert seen[after, "a"] == seen[after, "b"]
    assert seen[after, "a"] != seen[before, "a"]
    assert seen[before, "a"] not in rotated.out + rotated.err
    assert seen[after, "a"] not in rotated.out + rotated.err


def test_the_token_never_appears_in_the_ledger_logs_state_or_output(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a"), task("b", continue_on_failure=True, exit=1)]})
    run_id, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    token = tokens(ws)[run_id, "a"]
    shown = ws.inspect("show", run_id).out + ws.inspect("show", run_id, "--format", "json").out
    listed = ws.inspect("runs").out + ws.inspect("runs", "--format", "json").out
    assert token not in done.out + done.err + shown + listed
    assert "ends with token *** and exit code 1" in ws.show(run_id)["phases"][0]["tasks"][1]["error"]
    assert "has token ***" in (ws.state / "logs" / run_id / "a.log").read_text(encoding="utf-8")
    files = [p for p in ws.state.rglob("*") if p.is_file() and p.parent.name != "secrets"]
    assert {p.name for p in files} >= {"a.log", "b.log", ws.segment().name}
    assert [p for p in files if token.encode() in p.read_bytes()] == []


def test_secrets_are_readable_by_the_owner_only(ws: Workspace) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    run_id, _ = ws.run("daily")
    token = tokens(ws)[run_id, "a"]
    secrets = ws.state / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    holding = [p for p in secrets.iterdir() if token.encode() in p.read_bytes()]
    assert holding, "the token is not kept in the secrets folder"
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in secrets.iterdir()} == {
        p.name: 0o600 for p in secrets.iterdir()
    }


def test_a_rotation_while_a_run_processes_leaves_its_later_tasks_on_its_token(ws: Workspace) -> None:
    ws.orchestrate("sales", {"one": [task("a", gate="go")], "two": [task("b")]})
    process = ws.start("run", "sales")
    wait_until(lambda: ws.started("a"), what="the task")
    assert ws.orchrecon("tokens", "rotate", "sales").code == 0
    ws.release("go")
    assert ws.finish(process).code == 0
    after, _ = ws.run("sales")
    seen = tokens(ws)
    (during,) = {run for run, _ in seen} - {after}
    assert seen[during, "a"] == seen[during, "b"]
    assert seen[after, "a"] != seen[during, "a"]


def test_a_run_waiting_during_a_rotation_starts_with_the_new_token(ws: Workspace) -> None:
    ws.orchestrate("sales", {"one": [task("a", gate="go")]})
    first = ws.start("run", "sales")
    wait_until(lambda: ws.started("a"), what="the first run's task")
    second = ws.start("run", "sales")
    wait_until(lambda: len(ws.requested()) == 2, what="the second request")
    assert ws.orchrecon("tokens", "rotate", "sales").code == 0
    ws.release("go")
    assert (ws.finish(first).code, ws.finish(second).code) == (0, 0)
    old, new = ws.requested()
    assert tokens(ws)[new, "a"] != tokens(ws)[old, "a"]
