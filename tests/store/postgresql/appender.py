"""A process appending groups of records to the table ledger as fast as it can.

python -m tests.store.postgresql.appender URL NAME GROUPS
"""

from __future__ import annotations

import sys

from orchrecon.clock import SystemClock
from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.ledger import TableLedger


def main(url: str, name: str, groups: int) -> None:
    ledger = TableLedger(Database(url), SystemClock())
    for g in range(groups):
        ledger.append([{"type": "x", "group": f"{name}.{g}", "i": i} for i in range(1 + g % 3)])
    ledger.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
