"""A real `orchrecon reconcile --listen 127.0.0.1:0` over a small repository, with tokens made by the real
CLI, and httpx clients for it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from orchrecon.clock import SystemClock
from orchrecon.store.ledger import Ledger
from orchrecon.store.tokens import TokenStore
from tests.builders import CONFIG, ORCHESTRATION, TRIGGERED, git, small_repo, write

START_SECONDS = 30.0

SLOW = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {component: ex, name: slow}
spec:
  run: {command: [python, -c, "import time; time.sleep(60)"]}
"""

SUSPENDED = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: paused}
spec:
  suspend: true
  phases:
    - name: main
      tasks: [{name: first, config: ex/a}]
"""

TWO_TASKS = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {name: weekly}
spec:
  phases:
    - name: main
      tasks:
        - {name: first, config: ex/a}
        - {name: second, config: ex/b}
        - {name: off, config: ex/b, enabled: false}
"""

# Tokens the fixture creates: name -> `tokens create` options.
TOKENS: Mapping[str, tuple[str, ...]] = {
    "admin": ("--scope", "admin"),
    "reader": ("--scope", "runs:read"),
    "reader-daily": ("--scope", "runs:read", "--orchestration", "daily"),
    "trigger-daily": ("--scope", "runs:trigger", "--orchestration", "daily"),
    "trigger-all": ("--scope", "runs:trigger", "--email", "ci@example.com"),
    "tables": ("--scope", "tables:write"),
}


def repository(root: Path) -> Path:
    """daily (one task), weekly (two and a disabled one), marts (a trigger on in.c-ex.a and in.c-ext.b,
    no cool-down to speak of), slow (sleeps a minute), paused (suspended) and broken (never valid)."""
    small_repo(root, orchestrations=("daily",))
    write(root, "configurations/ex/b.yaml", CONFIG.format(component="ex", name="b", table="in.c-ex.b"))
    write(root, "configurations/ex/slow.yaml", SLOW)
    write(root, "orchestrations/weekly.yaml", TWO_TASKS)
    write(root, "orchestrations/marts.yaml", TRIGGERED.format(cooldown="1m"))
    write(root, "orchestrations/slow.yaml", ORCHESTRATION.format(name="slow", config="ex/slow"))
    write(root, "orchestrations/paused.yaml", SUSPENDED)
    write(root, "orchestrations/broken.yaml", ORCHESTRATION.format(name="broken", config="ex/missing"))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "orchestrations for the API tests")
    return root


def environ(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCHRECON_")}
    return {**env, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def orchrecon(repo: Path, state: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), *args]
    return subprocess.run(command, capture_output=True, text=True, env=environ(home), timeout=60, check=False)


def wait_until(predicate: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@dataclass
class Server:
    root: Path
    repo: Path
    state: Path
    home: Path
    process: subprocess.Popen[bytes]
    url: str = ""
    secrets: dict[str, str] = field(default_factory=dict)  # token name -> secret

    @property
    def out(self) -> Path:
        return self.root / "reconcile.out"

    @property
    def err(self) -> Path:
        return self.root / "reconcile.err"

    def client(self, token: str | None = None) -> httpx.Client:
        """A client sending the named token (or a raw secret if it is no name the fixture made)."""
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.secrets.get(token, token)}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        with self.client(token) as c:
            return c.request(method, path, **kwargs)

    def orchestration_token(self, name: str) -> str:
        return TokenStore(self.state / "secrets").get(name)

    def ledger(self) -> list[dict[str, Any]]:
        return [r for _, r in Ledger(self.state / "ledger", SystemClock()).read()]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return orchrecon(self.repo, self.state, self.home, *args)

    def finished(self, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """The run once it ended, as the API shows it."""
        found: list[dict[str, Any]] = []

        def ended() -> bool:
            body = self.request("GET", f"/api/v1/runs/{run_id}", "admin").json()
            found[:] = [body]
            return body.get("finishedAt") is not None

        wait_until(ended, f"run {run_id} to end", timeout)
        return found[0]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start(root: Path, *extra: str, tokens: Mapping[str, tuple[str, ...]] = TOKENS) -> Server:
    """Tokens made with `orchrecon tokens create`, then the reconciler serving the API on a free port;
    returns once its url is in `status/_reconciler.json` and /readyz answers 200."""
    repo, state, home = repository(root / "repo"), root / "state", root / "home"
    home.mkdir(parents=True, exist_ok=True)
    secrets = {}
    for name, options in tokens.items():
        made = orchrecon(repo, state, home, "tokens", "create", name, *options)
        assert made.returncode == 0, made.stderr
        secrets[name] = made.stdout.strip()
    command = [sys.executable, "-m", "orchrecon", "-C", str(repo), "--state-dir", str(state), "reconcile"]
    with (root / "reconcile.out").open("wb") as out, (root / "reconcile.err").open("wb") as err:
        process = subprocess.Popen(
            [*command, "--listen", "127.0.0.1:0", "--interval", "1s", *extra], stdout=out, stderr=err, env=environ(home)
        )
    server = Server(root=root, repo=repo, state=state, home=home, process=process, secrets=secrets)
    try:
        wait_until(lambda: _url(state) or process.poll() is not None, "the API's url", START_SECONDS)
        assert process.poll() is None, server.err.read_text()
        server.url = _url(state)
        wait_until(lambda: server.request("GET", "/readyz").status_code == 200, "/readyz", START_SECONDS)
    except BaseException:
        server.stop()
        raise
    return server


def _url(state: Path) -> str:
    try:
        status = json.loads((state / "status" / "_reconciler.json").read_text())
    except (OSError, ValueError):
        return ""
    return str((status.get("api") or {}).get("url") or "")


def serve(root: Path) -> Iterator[Server]:
    server = start(root)
    try:
        yield server
    finally:
        server.stop()
