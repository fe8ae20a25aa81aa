"""The store (shell over disk): the JSONL ledger, the run index, locks, the state directory and tokens. Imports
only the pure packages below it; never executors, git, the runner or the reconciler."""

from __future__ import annotations
