"""Notifications: webhook and email deliveries of run events, each claimed in the ledger before it is
sent so that none is ever sent twice. Must not import `reconcile` or `commands`."""

from __future__ import annotations

from orchrecon.notify.notifier import Notifier
from orchrecon.notify.policy import Policy

__all__ = ["Notifier", "Policy"]
