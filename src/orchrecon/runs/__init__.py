"""Runs (pure): run, phase and task statuses, ledger records folded into run views, the resolved run definition
and its selection. Imports only `documents` and `errors`; never the store, executors or git."""

from __future__ import annotations
