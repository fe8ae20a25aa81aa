"""Scheduling (pure): fire times across DST, slot decisions with catch-up, trigger verdicts. Takes `now` as an
argument; imports only `documents`, `errors` and `clock`'s formatting, and no I/O library."""

from __future__ import annotations
