"""The Dockerfile: what the image must hold, and its entrypoint, command and health check run for real
(outside a container: no daemon here) against a bare remote."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.builders import clone_with_remote
from tests.conftest import ROOT


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    pairs = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]
    last_from = max(i for i, (name, _) in enumerate(pairs) if name == "FROM")
    return pairs[last_from:]


def _one(name: str) -> str:
    (value,) = [args for instruction, args in _instructions() if instruction == name]
    return value


def _env() -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(_one("ENV")))


def test_the_image_is_slim_non_root_with_git_tzdata_an_init_a_state_volume_the_api_port_and_a_health_check() -> None:
    assert "slim" in _instructions()[0][1]
    assert _one("USER").split(":")[0] not in ("root", "0")
    installed = " ".join(args for name, args in _instructions() if name == "RUN")
    assert all(f" {package} " in installed for package in ("git", "tzdata", "tini", "openssh-client"))
    assert json.loads(_one("VOLUME")) == [_env()["ORCHRECON_STATE_DIR"]]
    assert _one("EXPOSE") == "8080"  # the port README tells a container to listen on
    assert json.loads(_one("ENTRYPOINT"))[:2] == ["/usr/bin/tini", "--"]
    assert _one("HEALTHCHECK").split(" CMD ")[1] == '["orchrecon", "health"]'


def _command(argv: list[str]) -> list[str]:
    """An exec-form command of the image, run with this interpreter instead of the installed script."""
    argv = argv[2:] if argv[:2] == ["/usr/bin/tini", "--"] else argv
    assert argv[0] == "orchrecon"
    return [sys.executable, "-m", "orchrecon", *argv[1:]]


def _reconciled(state: Path) -> bool:
    path = state / "status" / "_reconciler.json"
    return path.exists() and json.loads(path.read_text())["lastReconcile"] is not None


def test_the_entrypoint_reconciles_a_remote_and_the_health_check_follows_it(tmp_path: Path) -> None:
    clone_with_remote(tmp_path)
    env = {**os.environ, **_env(), "ORCHRECON_STATE_DIR": str(tmp_path / "state")}
    health = _command(json.loads(_one("HEALTHCHECK").split(" CMD ")[1]))
    entrypoint = _command(json.loads(_one("ENTRYPOINT")))
    command = [*json.loads(_one("CMD")), "--git", str(tmp_path / "remote.git"), "--branch", "main"]
    reconciler = subprocess.Popen([*entrypoint, *command], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not _reconciled(tmp_path / "state"):
            assert time.monotonic() < deadline, "the remote was never reconciled"
            time.sleep(0.05)
        assert subprocess.run(health, env=env, cwd=tmp_path, capture_output=True, check=False).returncode == 0
        workdir = tmp_path / _one("WORKDIR").strip("/")  # empty, as the image's: `docker exec orchrecon orchrecon runs`
        workdir.mkdir()
        for command in (["runs"], ["plan"], ["tables", "list"]):
            argv = _command(["orchrecon", *command])
            done = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True, check=False)
            assert done.returncode == 0, done.stderr
    finally:
        reconciler.send_signal(signal.SIGTERM)
        out, _ = reconciler.communicate(timeout=30)
    assert reconciler.returncode == 0
    events = [json.loads(line)["event"] for line in out.splitlines()]
    assert events == ["started", "reconciled", "stopped"]
    after = subprocess.run(health, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert after.returncode == 1
    assert after.stderr.startswith("orchrecon: error: unhealthy: the reconciler stopped at ")
