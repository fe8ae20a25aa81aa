"""Markdown for people, pure: the index, one page per orchestration with its gantt chart, and their terminal
form. Inputs are status documents, run views and ledger records; `now` comes from them. Must not import
`reconcile` or `commands`."""

from __future__ import annotations
