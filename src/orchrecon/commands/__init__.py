"""One module per command: `add_parser` declares its arguments, `run` takes typed keywords."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Protocol


class Subparsers(Protocol):
    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def add_cluster_option(p: argparse.ArgumentParser) -> None:
    """`--dask-scheduler` and the OpenLineage options, for the commands that run tasks (run, retry, reconcile)."""
    p.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="run command tasks on this Dask cluster (tcp://HOST:8786; default: ORCHRECON_DASK_SCHEDULER, else here)",
    )
    p.add_argument(
        "--openlineage-url",
        metavar="URL",
        help="send an OpenLineage event at each task attempt's start and end to this receiver (default: "
        "OPENLINEAGE_URL; the path under it: OPENLINEAGE_ENDPOINT, default api/v1/lineage)",
    )
    p.add_argument(
        "--openlineage-file", type=Path, metavar="PATH", help="append those events to this file, one JSON per line"
    )
