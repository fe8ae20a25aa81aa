"""Reconcile (shell): the long-running loop, desired state per orchestration, status derivation and status files.
Only `commands` imports it."""

from __future__ import annotations
