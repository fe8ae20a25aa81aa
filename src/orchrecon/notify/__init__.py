"""Notifications (to come): webhook and email deliveries of run events. Must not import `reconcile` or `commands`."""

from __future__ import annotations
