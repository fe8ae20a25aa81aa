"""One module per command: `add_parser` declares its arguments, `run` takes typed keywords."""

from __future__ import annotations

import argparse
from typing import Any, Protocol


class Subparsers(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...
