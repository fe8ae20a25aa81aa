"""Checks on one ledger line: the checksum written last, and each way a line can be damaged."""

from __future__ import annotations

import json

import pytest

from orchrecon.store.records import decode, encode

RECORD = {"v": 1, "seq": 3, "time": "2026-03-02T05:00:00.000Z", "type": "run.finished", "run": "r", "status": "success"}


def test_a_record_reads_back_without_its_checksum() -> None:
    line = encode(RECORD)
    assert line.endswith(b',"crc":"%08x"}\n' % int(json.loads(line)["crc"], 16))
    assert decode(line) == RECORD


def test_a_record_written_without_a_checksum_is_sound() -> None:
    assert decode(json.dumps(RECORD).encode() + b"\n") == RECORD


def _line(**changes: object) -> bytes:
    record = {k: v for k, v in {**RECORD, **changes}.items() if v is not None}
    return json.dumps(record).encode() + b"\n"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"\n", "empty line"),
        (b"\xff\xfe{}\n", "not JSON"),
        (b'{"v":1,\0\0\0\0\n', "not JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (_line(seq="x"), "seq is not a positive integer"),
        (_line(seq=True), "seq is not a positive integer"),
        (_line(seq=0), "seq is not a positive integer"),
        (_line(type=None), "no type"),
        (_line(time=None), "no version or time"),
        (_line(run=None), "run.finished without run"),
        (_line(status="fine"), "run.finished with an unknown status"),
        (_line(type="table.updated"), "table.updated without table"),
        (_line(type="run.requested", orchestration="o"), "run.requested without phases"),
        (encode(RECORD).replace(b'"success"', b'"warning"'), "checksum mismatch"),
        (_line(crc="00000000"), "checksum field out of place"),  # not where encode puts it
    ],
)
def test_a_damaged_line_says_why(line: bytes, reason: str) -> None:
    assert decode(line) == reason
