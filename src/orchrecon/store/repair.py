"""`ledger verify` and `ledger repair` over the ledger's files.

A repair moves each damaged line, byte for byte, out of its segment into `ledger/damaged/`, so nothing
is lost: `<stem>.bin` holds the lines' bytes one after another and `<stem>.json` says where each came
from (segment, line, offset and length before the repair, where it starts in the `.bin`, its SHA-256).
Putting each line back at its offset, lowest offset first, restores the segment as it was. The repair
runs under the ledger's append lock, rewrites each segment it touches atomically (a temporary file,
fsync, rename, fsync of the folder) and ends with a `ledger.repaired` record listing what moved where.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from orchrecon.clock import format_time
from orchrecon.store.ledger import Ledger, fsync_folder
from orchrecon.store.records import Damage, Record, segment_name

DAMAGED = "damaged"
_COPY_CHUNK = 1024 * 1024
RESTORE = (
    "each line's `length` bytes start at `at` in the .bin file; insert them into its segment at `offset`, "
    "lowest offset first (offsets are those before the repair)"
)


@dataclass(frozen=True, kw_only=True)
class Scan:
    records: int
    segments: int
    damage: list[Damage]
    torn: int  # bytes of a torn last line (cut off by the next append), not damage

    @property
    def clean(self) -> bool:
        return not self.damage


@dataclass(frozen=True, kw_only=True)
class Repaired:
    damage: list[Damage]
    data: Path  # the damaged bytes
    manifest: Path  # where each came from
    record: Record  # the `ledger.repaired` record


def scan(ledger: Ledger) -> Scan:
    """Read the whole ledger, checking every line."""
    damage: list[Damage] = []
    records = sum(1 for _ in ledger.read(on_damage=damage.append))
    numbers = ledger.segments()
    torn = 0
    if numbers:
        last = ledger.directory / segment_name(numbers[-1])
        torn = last.stat().st_size - ledger.end().offset
    return Scan(records=records, segments=len(numbers), damage=damage, torn=torn)


def repair(ledger: Ledger, *, now: datetime) -> Repaired | None:
    """Move every damaged line into `damaged/` and record it; None if the ledger is clean."""
    with ledger.exclusive() as append:
        damage = scan(ledger).damage
        if not damage:
            return None
        folder = ledger.directory / DAMAGED
        folder.mkdir(exist_ok=True)
        data, manifest, moved = _set_aside(ledger.directory, folder, damage, now)
        by_segment: dict[int, list[Damage]] = {}
        for d in damage:
            by_segment.setdefault(d.segment, []).append(d)
        for number, cut in by_segment.items():
            _rewrite(ledger.directory / segment_name(number), cut)
        fsync_folder(ledger.directory)
        (record,) = append(
            [
                {
                    "type": "ledger.repaired",
                    "moved": moved,
                    "to": f"{DAMAGED}/{data.name}",
                    "manifest": f"{DAMAGED}/{manifest.name}",
                }
            ]
        )
    ledger.sync()
    return Repaired(damage=damage, data=data, manifest=manifest, record=record)


def _set_aside(
    directory: Path, folder: Path, damage: Sequence[Damage], now: datetime
) -> tuple[Path, Path, list[dict[str, Any]]]:
    """Write the damaged bytes and their manifest, durably, before any segment changes."""
    base = format_time(now).replace("-", "").replace(":", "")  # 20261202T004512.123Z
    stem, n = base, 1
    while (folder / f"{stem}.json").exists() or (folder / f"{stem}.bin").exists():
        n += 1
        stem = f"{base}-{n}"
    chunks: list[bytes] = []
    moved: list[dict[str, Any]] = []
    at = 0
    for d in damage:
        with (directory / segment_name(d.segment)).open("rb") as f:
            f.seek(d.offset)
            raw = f.read(d.length)
        chunks.append(raw)
        moved.append({**d.to_json(), "at": at})
        at += len(raw)
    data, manifest = folder / f"{stem}.bin", folder / f"{stem}.json"
    _write_durably(data, lambda f: f.write(b"".join(chunks)))
    lines = [{**m, "sha256": hashlib.sha256(raw).hexdigest()} for m, raw in zip(moved, chunks, strict=True)]
    document = {"repairedAt": format_time(now), "bytes": data.name, "restore": RESTORE, "lines": lines}
    _write_durably(manifest, lambda f: f.write((json.dumps(document, indent=2) + "\n").encode()))
    fsync_folder(folder)
    return data, manifest, moved


def _rewrite(path: Path, cut: Sequence[Damage]) -> None:
    """Replace the segment by a copy without the `cut` lines."""

    def copy(dst: BinaryIO) -> None:
        with path.open("rb") as src:
            for d in sorted(cut, key=lambda d: d.offset):
                _copy(src, dst, d.offset - src.tell())
                src.seek(d.offset + d.length)
            _copy(src, dst, None)

    _write_durably(path, copy)


def _copy(src: BinaryIO, dst: BinaryIO, count: int | None) -> None:
    """`count` bytes (all that is left if None) from `src` to `dst`."""
    while count is None or count > 0:
        chunk = src.read(_COPY_CHUNK if count is None else min(count, _COPY_CHUNK))
        if not chunk:
            return
        dst.write(chunk)
        if count is not None:
            count -= len(chunk)


def _write_durably(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write `path` whole or not at all: a temporary file beside it, fsynced, renamed over it."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    temporary.replace(path)
