"""One module per command: `add_parser` declares its arguments, `run` takes typed keywords."""

from __future__ import annotations

import argparse
from typing import Any, Protocol


class Subparsers(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def add_cluster_option(p: argparse.ArgumentParser) -> None:
    """`--dask-scheduler`, for the commands that run tasks (run, retry, reconcile)."""
    p.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="run command tasks on this Dask cluster (tcp://HOST:8786; default: ORCHRECON_DASK_SCHEDULER, else here)",
    )
