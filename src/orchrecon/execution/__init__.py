"""Execution (shell): the runner that takes a run definition through its phases under the run and configuration
locks, progress lines for a terminal, and orphan cleanup. Must not import `reconcile`, `app` or `commands`."""

from __future__ import annotations
