"""example/hello: write a greeting into data/out/hello.txt.

A job is any command. orchrecon passes the merged parameters as JSON in ORCHRECON_PARAMETERS and the
run's context in ORCHRECON_RUN_ID, ORCHRECON_ORCHESTRATION and ORCHRECON_TASK; exit 0 is success.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def main() -> None:
    parameters = json.loads(os.environ.get("ORCHRECON_PARAMETERS", "{}"))
    greeting = f"{parameters.get('greeting', 'Hello')}, {parameters.get('name', 'world')}!"
    out = Path("data") / "out" / "hello.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"{greeting} (run {os.environ.get('ORCHRECON_RUN_ID', 'by hand')})\n", encoding="utf-8")
    print(greeting, "->", out)


if __name__ == "__main__":
    main()
