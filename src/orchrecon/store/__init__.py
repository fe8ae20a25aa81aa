"""The store (shell over disk): the JSONL ledger, the run index, locks, the state directory and tokens. Imports
only the pure packages below it; never executors, git, the runner or the reconciler."""

from __future__ import annotations

# Here rather than in store.backends, which reads it, so that the command line can name it without importing them.
STATE_URL_VAR = "ORCHRECON_STATE_URL"
