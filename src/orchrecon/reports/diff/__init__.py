"""`orchrecon diff`: what a working tree changes against a base revision. `model` holds the facts, `compare`
finds them (with `tasks` for phases and tasks and `keys` for mappings), `markdown` and `asjson` render them. Pure:
both sides come in validated, `now` comes in."""

from __future__ import annotations
