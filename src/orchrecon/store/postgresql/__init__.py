"""The PostgreSQL state backend (`orchrecon[postgresql]`): the ledger as a table, its schema migrations, advisory
locks and the leadership epoch that fences a deposed reconciler. The only package that imports psycopg, so the
rest of orchrecon installs and runs without it.

Its connections must reach PostgreSQL directly or through a session-pooling proxy: a transaction-pooling proxy
(PgBouncer with `pool_mode = transaction`) hands each transaction to whichever server session is free, which
breaks session-level advisory locks and LISTEN. `locks` refuses a session whose backend changes between its
statements, which is how such a proxy shows itself when it has more than one server connection; with a single
one it cannot be told apart, so the documentation has to say it.
"""

from __future__ import annotations
