"""Helpers shared by the example jobs (standard library only).

orchrecon runs every job with the repository root as the working directory and
passes the merged parameters as JSON in ORCHRECON_PARAMETERS.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import sys
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

JOB = Path(sys.argv[0]).stem


def fail(message: str) -> NoReturn:
    print(f"{JOB}: error: {message}", file=sys.stderr)
    sys.exit(1)


def log(message: str) -> None:
    print(f"[{JOB}] {message}", flush=True)


def parameters() -> dict[str, Any]:
    raw = os.environ.get("ORCHRECON_PARAMETERS", "").strip() or "{}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        fail(f"ORCHRECON_PARAMETERS is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail("ORCHRECON_PARAMETERS must be a JSON object")
    return value


def param(params: dict[str, Any], name: str, default: Any, kind: type | tuple[type, ...]) -> Any:
    """Parameter `name` (or `default`), checked against the expected JSON type."""
    value = params.get(name, default)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is a subclass of int: refuse true/false where a number is expected
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        fail(f"parameter {name!r} must be {expected}, got {json.dumps(value)}")
    return value


def date_param(params: dict[str, Any], name: str, default: str) -> date:
    value = param(params, name, default, str)
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"parameter {name!r} must be a date YYYY-MM-DD, got {value!r}")


def money(cents: int) -> str:
    """Cents as a decimal string, without float rounding surprises."""
    return f"{cents // 100}.{cents % 100:02d}"


def write_csv(path: str | Path, header: list[str], rows: list[list[Any]]) -> Path:
    """Write rows atomically (a failed run never leaves a half-written extract)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(target)
    return target


# Shared by the shop extractor (order attribution) and the Adform extractor.
ADFORM_CAMPAIGNS = [
    ("AF-1001", "Winter sale - search"),
    ("AF-1002", "Winter sale - display"),
    ("AF-1003", "Brand awareness - video"),
    ("AF-1004", "Retargeting - cart abandoners"),
]


def warehouse_path() -> Path:
    return Path(os.environ.get("WAREHOUSE_PATH", "data/warehouse.sqlite"))


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if not create and not path.is_file():
        fail(f"warehouse {path} not found; run the transformation tr-sql/sales-mart first")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    return conn


def quote(identifier: str) -> str:
    """Quote a table id such as in.c-shop.orders for SQLite."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}", identifier):
        fail(f"invalid table id {identifier!r}")
    return '"' + identifier + '"'


def table_exists(conn: sqlite3.Connection, table: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None


def load_csv(
    conn: sqlite3.Connection, table: str, path: Path, columns: dict[str, str], *, required: bool
) -> int:
    """(Re)load a CSV extract into table `table` with the given column types.

    A missing optional extract gives an empty table, so that downstream SQL still works.
    """
    conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
    conn.execute(
        f"CREATE TABLE {quote(table)} ({', '.join(f'{name} {kind}' for name, kind in columns.items())})"
    )
    if not path.is_file():
        if required:
            fail(f"input {path} not found; run the extractor that writes {table} first")
        log(f"{table}: {path} not found, loading an empty table")
        return 0
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in columns if name not in (reader.fieldnames or [])]
        if missing:
            fail(f"{path}: missing column(s) {', '.join(missing)}")
        rows = [tuple(record[name] for name in columns) for record in reader]
    placeholders = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {quote(table)} VALUES ({placeholders})", rows)
    log(f"{table}: loaded {len(rows)} rows from {path}")
    return len(rows)
