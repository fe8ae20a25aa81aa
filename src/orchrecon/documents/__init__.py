"""Documents (pure): YAML with source positions, the schema, cron grammar, semantic checks, validation and the
frozen model. Imports nothing of orchrecon but `errors`, and no I/O library (no git, network, sqlite or watcher)."""

from __future__ import annotations
