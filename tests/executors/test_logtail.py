"""Following a task log while it is written: every byte once, in order, across the compactions of the cap."""

from __future__ import annotations

import re
from pathlib import Path

from orchrecon.executors.environment import Redactor
from orchrecon.executors.logtail import LogTail
from orchrecon.executors.tasklog import TaskLog

CAP, KEEP = 4096, 2048


def _lines(start: int, count: int) -> bytes:
    return b"".join(b"line %06d %s\n" % (i, b"x" * 40) for i in range(start, start + count))


def test_a_tail_read_after_every_write_sees_the_whole_stream_across_compactions(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "a.log"
    seen, written = [], b""
    with LogTail(path) as tail, TaskLog(path, Redactor([]), cap=CAP, keep=KEEP) as log:
        assert tail.read() == b""  # nothing written yet
        for i in range(0, 600, 3):
            chunk = _lines(i, 3)
            log.feed(chunk)
            written += chunk
            seen.append(tail.read())
        log.close()
        seen.append(tail.read())
    data = b"".join(seen)
    assert data == written  # nothing lost, nothing twice: the marker lines of later files are skipped
    assert path.read_bytes().startswith(b"[orchrecon] log over 4096 bytes: ")


def test_a_tail_that_falls_behind_says_how_much_it_missed_and_goes_on_with_the_tail(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    with LogTail(path) as tail, TaskLog(path, Redactor([]), cap=CAP, keep=KEEP) as log:
        log.feed(_lines(0, 10))
        first = tail.read()
        for i in range(10, 410, 3):  # many compactions before the next read
            log.feed(_lines(i, 3))
        rest = tail.read()
    stream = _lines(0, 412)
    match = re.search(rb"\[orchrecon\] (\d+) bytes of output were dropped before they were shown\n", rest)
    assert match is not None
    drained, shown, missed = rest[: match.start()], rest[match.end() :], int(match.group(1))
    assert first == _lines(0, 10)
    assert first + drained == stream[: len(first) + len(drained)]  # the replaced file, read to its end
    assert shown == stream[len(first) + len(drained) + missed :]  # exactly what follows what it missed
    assert path.read_bytes().endswith(shown)


def test_the_first_read_shows_the_marker_of_a_compacted_log(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    with TaskLog(path, Redactor([]), cap=CAP, keep=KEEP) as log:
        log.feed(_lines(0, 200))
    with LogTail(path) as tail:
        assert tail.read() == path.read_bytes()
