"""Builders for small repositories on disk and real git remotes."""

from __future__ import annotations

import subprocess
from pathlib import Path

CONFIG = """\
apiVersion: orchrecon/v1
kind: Configuration
metadata: {{component: {component}, name: {name}}}
spec:
  run: {{command: [python, -c, "print('ok')"]}}
  outputs: [{table}]
"""

ORCHESTRATION = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: {name}}}
spec:
  phases:
    - name: main
      tasks:
        - {{name: first, config: {config}}}
"""


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def small_repo(root: Path, *, orchestrations: tuple[str, ...] = ("daily",)) -> Path:
    """A valid repository: configuration ex/a and one orchestration per name running it."""
    write(root, "configurations/ex/a.yaml", CONFIG.format(component="ex", name="a", table="in.c-ex.a"))
    for name in orchestrations:
        write(root, f"orchestrations/{name}.yaml", ORCHESTRATION.format(name=name, config="ex/a"))
    return root


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def clone_with_remote(tmp: Path) -> Path:
    """A bare remote with a valid `main`, and a clone of it; returns the clone."""
    remote, seed, clone = tmp / "remote.git", tmp / "seed", tmp / "clone"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(remote))
    small_repo(seed)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "seed")
    git(seed, "push", "-q", str(remote), "main")
    git(tmp, "clone", "-q", str(remote), str(clone))
    return clone


TRIGGERED = """\
apiVersion: orchrecon/v1
kind: Orchestration
metadata: {{name: marts}}
spec:
  phases:
    - name: main
      tasks: [{{name: first, config: ex/a}}]
  trigger: {{tables: [in.c-ex.a, in.c-ext.b], cooldown: {cooldown}}}
"""
