"""wr-report/*: write mart tables from the warehouse as a markdown report (and CSV files).

Parameters (ORCHRECON_PARAMETERS):
  title     report heading (default "Warehouse report")
  intro     a paragraph under the heading (optional)
  output    markdown file (default data/out/report.md)
  sections  list of {table, title?, columns?, orderBy?, limit?, csv?}; default: every out.* table.
            orderBy is "column" or "column DESC"; csv is a path that receives all rows of the section.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from common import connect, fail, log, param, parameters, quote, table_exists, warehouse_path

ORDER_BY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?", re.IGNORECASE)
SECTION_KEYS = {"table", "title", "columns", "orderBy", "limit", "csv"}


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def section(conn: sqlite3.Connection, spec: Any, number: int) -> tuple[str, int]:
    where = f"sections[{number}]"
    if not isinstance(spec, dict) or not isinstance(spec.get("table"), str):
        fail(f"{where} must be an object with a string 'table'")
    unknown = sorted(set(spec) - SECTION_KEYS)
    if unknown:
        fail(f"{where}: unknown key(s) {', '.join(unknown)}")
    table = spec["table"]
    if not table_exists(conn, table):
        fail(f"{where}: table {table} not found in the warehouse; run its transformation first")
    available = [row[1] for row in conn.execute(f"PRAGMA table_info({quote(table)})")]
    columns = spec.get("columns", available)
    if not isinstance(columns, list) or not columns or not all(c in available for c in columns):
        fail(f"{where}: 'columns' must be a non-empty list of columns of {table}: {', '.join(available)}")

    query = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table)}"
    if "orderBy" in spec:
        match = ORDER_BY.fullmatch(str(spec["orderBy"]).strip())
        if not match or match.group(1) not in available:
            fail(f"{where}: 'orderBy' must be a column of {table}, optionally followed by ASC or DESC")
        query += f" ORDER BY {quote(match.group(1))} {(match.group(2) or 'ASC').upper()}"
    rows = conn.execute(query).fetchall()

    if "csv" in spec:
        target = Path(str(spec["csv"]))
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
        log(f"{table}: {len(rows)} rows to {target}")

    limit = spec.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        fail(f"{where}: 'limit' must be a positive integer")
    shown = rows[:limit] if limit else rows
    numeric = [all(isinstance(r[i], int | float) or r[i] is None for r in rows) and rows
               for i in range(len(columns))]
    lines = [f"## {spec.get('title', table)}", ""]
    note = f"`{table}`, {len(rows)} row(s)"
    if len(shown) < len(rows):
        note += f", showing the first {len(shown)}"
    lines += [note, ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown]
    return "\n".join(lines) + "\n", len(rows)


def main() -> None:
    params = parameters()
    title = param(params, "title", "Warehouse report", str)
    intro = param(params, "intro", "", str)
    output = Path(param(params, "output", "data/out/report.md", str))
    path = warehouse_path()
    conn = connect(path, create=False)
    default = [{"table": name} for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'out.%' ORDER BY name")]
    sections = param(params, "sections", default, list)
    if not sections:
        fail("nothing to report: no sections given and no out.* tables in the warehouse")

    parts = [f"# {title}", ""]
    if intro:
        parts += [intro, ""]
    source = os.environ.get("ORCHRECON_CONFIG", "wr-report")
    parts += [f"Written by `{source}` from `{path}`.", ""]
    for number, spec in enumerate(sections):
        text, count = section(conn, spec, number)
        parts.append(text)
        log(f"section {number + 1}: {spec['table']} ({count} rows)")
    conn.close()

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text("\n".join(parts).rstrip("\n") + "\n", encoding="utf-8")
    tmp.replace(output)
    log(f"wrote {output}")


if __name__ == "__main__":
    main()
