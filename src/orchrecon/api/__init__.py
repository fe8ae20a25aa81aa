"""The HTTP API (to come): Starlette routes served by the reconciler. Only `commands` and `reconcile` may import it."""

from __future__ import annotations
