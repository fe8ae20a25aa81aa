"""Everything that runs git."""

from __future__ import annotations

import subprocess
from pathlib import Path


def changed_files(root: Path, base: str) -> set[str]:
    """Files changed since the merge base of `base` and HEAD, relative to `root`; empty if git cannot tell."""
    try:
        out = subprocess.run(
            ["git", "diff", "--name-only", "--relative", f"{base}...HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {line for line in out.splitlines() if line}
