"""`orchrecon ledger import|export` between a state directory and a real PostgreSQL server: nothing lost or changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchrecon.cli import main
from tests.execution import builders
from tests.execution.builders import Workspace, task


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from builders.workspace(tmp_path)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def segments(state: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((state / "ledger").glob("*.jsonl"))}


def test_a_ledger_imported_and_exported_again_is_the_same_bytes(
    ws: Workspace, postgres_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ws.orchestrate("daily", {"one": [task("a"), task("b")], "two": [task("c", exit=1)]})
    ws.commit()
    for _ in range(3):
        ws.run("daily")
    before = segments(ws.state)
    records = sum(chunk.count(b"\n") for chunk in before.values())
    assert records > 20
    assert cli(capsys, "db", "migrate", "--state", postgres_url)[0] == 0
    where = ("-C", str(ws.root), "--state-dir", str(ws.state))
    code, out, err = cli(capsys, "ledger", "import", *where, "--state", postgres_url)
    assert (code, err) == (0, "")
    assert out.startswith(f"imported {records} records from {ws.state / 'ledger'} into postgresql://")
    other = tmp_path / "exported"
    code, out, err = cli(
        capsys, "ledger", "export", "-C", str(ws.root), "--state-dir", str(other), "--state", postgres_url
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"exported {records} records from postgresql://orchrecon@127.0.0.1:")
    assert out.endswith(f" into {other / 'ledger'}\n")
    assert segments(other) == before
    # Twice is refused: the database already holds them, and so does the exported folder.
    code, _, err = cli(capsys, "ledger", "import", *where, "--state", postgres_url)
    assert code == 1
    assert "already holds a ledger" in err
    assert "import only into an empty one" in err
    code, _, err = cli(
        capsys, "ledger", "export", "-C", str(ws.root), "--state-dir", str(other), "--state", postgres_url
    )
    assert code == 1
    assert f"{other / 'ledger'} already holds a ledger" in err
    assert segments(other) == before


def test_a_damaged_ledger_is_not_imported_at_all(
    ws: Workspace, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ws.orchestrate("daily", {"one": [task("a")]})
    ws.commit()
    ws.run("daily")
    (segment,) = (ws.state / "ledger").glob("*.jsonl")
    lines = segment.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"type"', b'"tpye"')
    segment.write_bytes(b"\n".join(lines))
    assert cli(capsys, "db", "migrate", "--state", postgres_url)[0] == 0
    code, out, err = cli(
        capsys, "ledger", "import", "-C", str(ws.root), "--state-dir", str(ws.state), "--state", postgres_url
    )
    assert code == 1
    assert f"the ledger has damaged lines (the first at {segment}:3" in err
    assert "nothing was imported" in err
    code, out, _ = cli(
        capsys, "ledger", "export", "-C", str(ws.root), "--state-dir", str(ws.root / "x"), "--state", postgres_url
    )
    assert (code, out.split(" records")[0]) == (0, "exported 0")


def test_an_export_into_what_is_not_a_folder_is_one_line_naming_it(
    ws: Workspace, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "db", "migrate", "--state", postgres_url)[0] == 0
    (ws.root / "state").mkdir(parents=True)
    (ws.root / "state" / "ledger").write_text("a file, not a folder\n", encoding="utf-8")
    where = ("-C", str(ws.root), "--state-dir", str(ws.root / "state"))
    code, out, err = cli(capsys, "ledger", "export", *where, "--state", postgres_url)
    assert code == 1
    assert out == ""
    assert err.startswith(f"orchrecon: error: cannot export the ledger into {ws.root / 'state' / 'ledger'}: ")
    assert len(err.splitlines()) == 1


def _comparable(lines: list[bytes], state: Path) -> list[dict[str, object]]:
    """The records with what differs between two executions of the same commands made alike: times, durations,
    process ids, run ids (numbered in order of appearance), checksums and the state directory's path."""
    ids: dict[str, str] = {}
    found = []
    for line in lines:
        text = line.decode().replace(str(state), "<STATE>")
        text = builders.RUN_ID.sub(lambda m: ids.setdefault(m.group(), f"<RUN-{len(ids) + 1}>"), text)
        record = json.loads(text)
        for key in ("time", "crc", "pid", "durationMs"):
            record.pop(key, None)
        found.append(record)
    return found


def test_the_same_commands_record_the_same_ledger_on_either_backend(
    ws: Workspace, postgres_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # One task a phase: tasks of a phase finish in either order.
    ws.orchestrate("daily", {"one": [task("a")], "two": [task("b")], "three": [task("c", exit=1)]})
    ws.commit()
    assert cli(capsys, "db", "migrate", "--state", postgres_url)[0] == 0
    database = tmp_path / "machine-with-the-database"
    for state, env in ((ws.state, {}), (database, {"ORCHRECON_STATE_URL": postgres_url})):
        for args in (("run", "daily"), ("run", "daily", "--task", "a"), ("tables", "touch", "in.c-x.y")):
            assert ws.finish(ws.start(*args, env=env, state=state)).code in (0, 1)
    exported = tmp_path / "exported"
    code, _, err = cli(capsys, "ledger", "export", "--state-dir", str(exported), "--state", postgres_url)
    assert (code, err) == (0, "")
    jsonl = b"".join(segments(ws.state).values()).splitlines()
    table = b"".join(segments(exported).values()).splitlines()
    assert len(jsonl) > 20
    assert _comparable(table, database) == _comparable(jsonl, ws.state)
