"""Ways a ledger line gets damaged, applied to a ledger written by real runs (tests/execution/builders).

`damaged_ledger` runs `daily` twice, then replaces the first run's `run.finished` line (in the middle
of the segment) with what a kind of damage makes of it, and deletes the index, as the issue describes.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from orchrecon.store.records import encode
from tests.execution.builders import Workspace, normalise, task

BYTE = re.compile(r"\(byte \d+\)")


@dataclass(frozen=True)
class Kind:
    name: str
    damage: Callable[[bytes], bytes]  # the line -> what replaces it
    kept: bool = False  # the line itself stays sound (the damage is added next to it)

    def __str__(self) -> str:
        return self.name


def _nul(line: bytes) -> bytes:
    middle = len(line) // 2
    return line[:middle] + b"\0" * 8 + line[middle + 8 :]


def _random(line: bytes) -> bytes:
    noise = random.Random(10).randbytes(len(line) - 1).replace(b"\n", b"\xff")
    return noise + b"\n"


def _random_lines(line: bytes) -> bytes:
    """Random bytes over the line and a newline's worth of lines: several damaged lines."""
    noise = bytearray(random.Random(11).randbytes(len(line) - 1).replace(b"\n", b"\xff"))
    for at in (len(noise) // 3, 2 * len(noise) // 3):
        noise[at] = ord("\n")
    return bytes(noise) + b"\n"


def _without_type(line: bytes) -> bytes:
    record = json.loads(line)
    del record["type"], record["crc"]
    return encode(record)  # a sound checksum: only the shape is wrong


KINDS = [
    Kind("nul-bytes", _nul),
    Kind("truncated", lambda line: line[: len(line) // 2] + b"\n"),
    Kind("random-bytes", _random),
    Kind("random-lines", _random_lines),
    Kind("seq-x", lambda line: re.sub(rb'"seq":\d+', b'"seq":"x"', line, count=1)),
    Kind("seq-repeated", lambda line: line + line, kept=True),  # a line written twice
    Kind("json-array", lambda line: json.dumps([json.loads(line)]).encode() + b"\n"),
    Kind("no-type", _without_type),
    Kind("checksum", lambda line: line.replace(b'"status":"success"', b'"status":"warning"')),
]


@dataclass(frozen=True)
class Damaged:
    ws: Workspace
    first: str  # the run whose run.finished is damaged (it had succeeded)
    second: str
    original: list[bytes]  # the segment's lines before the damage
    line: int  # 0-based index of the damaged line among them
    offset: int  # its byte offset
    replacement: bytes
    kind: Kind

    @property
    def bytes_after_damage(self) -> bytes:
        return b"".join([*self.original[: self.line], self.replacement, *self.original[self.line + 1 :]])

    @property
    def position(self) -> tuple[int, int]:
        """The damaged line's 1-based number and byte offset (a copy written next to it: the copy's)."""
        if self.kind.kept:
            return self.line + 2, self.offset + len(self.original[self.line])
        return self.line + 1, self.offset

    @property
    def where(self) -> str:
        """`file:line (byte offset)` of the damaged line, as messages name it."""
        line, offset = self.position
        return f"{self.ws.state / 'ledger' / '00000001.jsonl'}:{line} (byte {offset})"

    def pieces(self) -> list[tuple[int, int, int]]:
        """Each damaged line's 1-based number, byte offset and length."""
        line, offset = self.position
        found = []
        for piece in self.moved().splitlines(keepends=True):
            found.append((line, offset, len(piece)))
            line, offset = line + 1, offset + len(piece)
        return found

    def sound_lines(self) -> list[bytes]:
        """The segment's lines a repair must keep, byte for byte, in order."""
        return [line for i, line in enumerate(self.original) if i != self.line or self.kind.kept]

    def moved(self) -> bytes:
        """The bytes a repair must move aside."""
        return self.replacement[len(self.original[self.line]) :] if self.kind.kept else self.replacement


def damaged_ledger(ws: Workspace, kind: Kind, *, keep_index: bool = False) -> Damaged:
    ws.orchestrate("daily", {"one": [task("a")]})
    first, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    second, done = ws.run("daily")
    assert done.code == 0, done.out + done.err
    segment = ws.segment()
    lines = segment.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if b'"run.finished"' in line and first.encode() in line)
    replacement = kind.damage(lines[index])
    offset = sum(len(line) for line in lines[:index])
    damaged = Damaged(ws, first, second, lines, index, offset, replacement, kind)
    segment.write_bytes(damaged.bytes_after_damage)
    if not keep_index:
        (ws.state / "index.sqlite").unlink()
    return damaged


def message(text: str, ws: Workspace) -> str:
    """A command's stderr with paths, run ids, times and byte offsets replaced (they vary between runs)."""
    text = normalise(text, ws.state, ws.root)
    return BYTE.sub("(byte <N>)", text)
