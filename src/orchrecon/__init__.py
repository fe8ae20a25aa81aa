"""orchrecon: a GitOps reconciler for data-pipeline orchestrations."""

from __future__ import annotations

__version__ = "0.1.0"
