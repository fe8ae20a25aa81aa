"""One ledger line: how a record is written (with its checksum) and every check it must pass when read back.

A record is written as compact JSON whose last field is `"crc":"xxxxxxxx"`, the CRC-32 (8 hex digits) of
the same line without that field. A reader checks it on the raw bytes, so it costs no second JSON
encoding; records written before checksums existed have none and are still valid. A line is damaged
when it is not JSON, not an object, lacks what every record has (`v`, `seq`, `time`, `type`) or what its
type needs (`run.finished` a `run` and a valid `status`, say), fails its checksum, or has a `seq` not
above the record before it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchrecon.errors import OrchreconError
from orchrecon.runs.state import RunStatus, StepStatus

Record = dict[str, Any]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # json.dumps with options builds one per call
_CRC_KEY = b',"crc":"'
_CRC_TAIL = len(_CRC_KEY) + 8 + len(b'"}\n')  # the checksum field, the closing brace and the newline

# What the index and the run views read from each type of record: string fields, and the status values.
_FIELDS: Mapping[str, tuple[str, ...]] = {
    "run.requested": ("run", "orchestration"),
    "run.started": ("run",),
    "run.cancel-requested": ("run",),
    "phase.started": ("run", "phase"),
    "phase.finished": ("run", "phase", "status"),
    "task.started": ("run", "task"),
    "task.finished": ("run", "task", "status"),
    "run.finished": ("run", "status"),
    "table.updated": ("table",),
    "schedule.armed": ("schedule", "since"),
    "schedule.fired": ("schedule", "slot"),
    "schedule.missed": ("schedule", "slot"),
    "schedule.suppressed": ("schedule", "slot"),
    "trigger.armed": ("trigger", "since"),
}
_RUN_STATUSES = frozenset(s.value for s in RunStatus)
_STEP_STATUSES = frozenset(s.value for s in StepStatus)


def segment_name(number: int) -> str:
    return f"{number:08d}.jsonl"


def encode(record: Mapping[str, Any]) -> bytes:
    """The record as one line, its checksum last."""
    return line_of(_ENCODER.encode(record).encode())


def line_of(body: bytes) -> bytes:
    """The line of a record already encoded as a JSON object (`body`): its checksum added last."""
    return b'%s,"crc":"%08x"}\n' % (body[:-1], zlib.crc32(body))


def decode(line: bytes) -> Record | str:
    """The record a whole line (newline included) holds, without its checksum; or why it is damaged."""
    try:
        record = json.loads(line.decode())  # UTF-8 only: bytes would be sniffed for UTF-16 and UTF-32 too
    except ValueError:  # UnicodeDecodeError too
        return "empty line" if not line.strip() else "not JSON"
    if not isinstance(record, dict):
        return "not a JSON object"
    crc = record.pop("crc", None)
    problem = _shape_problem(record)  # first: it says more than a checksum mismatch would
    if problem is not None:
        return problem
    if crc is not None:
        if not (isinstance(crc, str) and len(line) > _CRC_TAIL and line[-_CRC_TAIL:].startswith(_CRC_KEY)):
            return "checksum field out of place"
        body = memoryview(line)[: len(line) - _CRC_TAIL]
        if f"{zlib.crc32(b'}', zlib.crc32(body)):08x}" != crc:
            return "checksum mismatch"
    return record


def _shape_problem(record: Record) -> str | None:
    seq = record.get("seq")
    if type(seq) is not int or seq < 1:
        return "seq is not a positive integer"
    kind = record.get("type")
    if not isinstance(kind, str) or not kind:
        return "no type"
    if type(record.get("v")) is not int or not isinstance(record.get("time"), str):
        return "no version or time"
    for name in _FIELDS.get(kind, ()):
        if not isinstance(record.get(name), str):
            return f"{kind} without {name}"
    status = record.get("status")
    if (kind == "run.finished" and status not in _RUN_STATUSES) or (
        kind in ("phase.finished", "task.finished") and status not in _STEP_STATUSES
    ):
        return f"{kind} with an unknown status"
    if kind == "run.requested" and not isinstance(record.get("phases"), list):
        return "run.requested without phases"
    return None


@dataclass(frozen=True, kw_only=True)
class Damage:
    """A damaged line: its segment, 1-based line number, byte offset and length (newline included)."""

    segment: int
    line: int
    offset: int
    length: int
    reason: str

    def where(self, directory: Path) -> str:
        return f"{directory / segment_name(self.segment)}:{self.line} (byte {self.offset})"

    def to_json(self) -> dict[str, Any]:
        return {
            "segment": segment_name(self.segment),
            "line": self.line,
            "offset": self.offset,
            "length": self.length,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Damage:
        return cls(
            segment=int(str(data["segment"]).split(".", 1)[0]),
            line=int(data["line"]),
            offset=int(data["offset"]),
            length=int(data["length"]),
            reason=str(data["reason"]),
        )


REFUSED = "nothing more is recorded until it is dealt with"
SHOWN = "shown without it"


def notice(damage: Sequence[Damage], directory: Path, consequence: str) -> str:
    """One line naming the first damaged line (and how many more there are), what follows, and what to do."""
    first = damage[0]
    more = f" (and {len(damage) - 1} more damaged lines)" if len(damage) > 1 else ""
    return (
        f"{first.where(directory)}: damaged record ({first.reason}){more}; {consequence}: "
        "'orchrecon ledger verify' lists the damage, 'orchrecon ledger repair' sets it aside"
    )


class LedgerDamagedError(OrchreconError):
    """The ledger has damaged lines; an append could record something false, so it is refused."""

    def __init__(self, damage: Sequence[Damage], directory: Path) -> None:
        self.damage = list(damage)
        super().__init__(notice(damage, directory, REFUSED))
