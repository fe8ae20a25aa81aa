"""A process holding an advisory lock until it is killed: prints its session's backend pid once it holds it.

python -m tests.store.postgresql.holder URL NAME
"""

from __future__ import annotations

import sys
import threading

from orchrecon.store.postgresql.database import Database
from orchrecon.store.postgresql.locks import AdvisoryLocks


def main(url: str, name: str) -> None:
    locks = AdvisoryLocks(Database(url))
    if not locks.try_acquire(name):
        raise SystemExit(f"{name} is taken")
    print(locks.backend_pid(), flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
