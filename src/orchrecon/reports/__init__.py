"""Markdown reports (to come): the index, one page per orchestration, and `diff`. Must not import `reconcile` or
`commands`."""

from __future__ import annotations
