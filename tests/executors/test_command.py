from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from orchrecon.documents.model import FromEnv
from orchrecon.executors import Outcome, TaskJob, TaskResult
from orchrecon.executors.command import CommandExecutor
from tests.executors.jobs import TOKEN, async_wait_until, configuration, task_job, wait_until

FAST = CommandExecutor(kill_grace=0.2)

# Started by a command: writes its pid atomically, ignores SIGTERM so only the SIGKILL escalation ends it.
GRANDCHILD = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
"""


def script(root: Path, code: str) -> tuple[str, ...]:
    path = root / "job.py"
    path.write_text(code, encoding="utf-8")
    return (sys.executable, str(path))


def run(job: TaskJob, executor: CommandExecutor = FAST) -> TaskResult:
    return asyncio.run(executor.run(job))


def alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie waiting for whichever process adopted it is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def spawn_grandchild(root: Path) -> str:
    (root / "grandchild.py").write_text(GRANDCHILD, encoding="utf-8")
    return (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(root / 'grandchild.py')!r}, {str(root / 'grandchild.pid')!r}])\n"
    )


def test_exit_zero_is_success_and_output_goes_to_the_log(tmp_path: Path) -> None:
    job = task_job(
        tmp_path,
        configuration(command=script(tmp_path, "import sys\nprint('out', flush=True)\nsys.stderr.write('err')")),
    )
    result = run(job)
    assert result == TaskResult(outcome=Outcome.SUCCESS, exit_code=0)
    assert job.log_path.read_text().splitlines() == ["out", "err"]


def test_non_zero_exit_reports_the_code_and_the_last_line(tmp_path: Path) -> None:
    code = f"print('loading')\nprint('bad row 17 for {TOKEN}' + 'x' * 300)\nprint('   ')\nraise SystemExit(3)"
    result = run(task_job(tmp_path, configuration(command=script(tmp_path, code))))
    assert result.outcome is Outcome.ERROR
    assert result.exit_code == 3
    assert result.error is not None
    assert result.error.startswith("exited with code 3: bad row 17 for ***xxx")
    assert len(result.error) < 250


def test_a_signal_is_reported(tmp_path: Path) -> None:
    result = run(task_job(tmp_path, configuration(command=script(tmp_path, "import os\nos.kill(os.getpid(), 9)"))))
    assert (result.outcome, result.error, result.details) == (Outcome.ERROR, "killed by signal 9", {"signal": 9})


def test_environment_holds_configured_values_secrets_and_orchrecon_variables(tmp_path: Path) -> None:
    code = f"import json, os\njson.dump(dict(os.environ), open({str(tmp_path / 'env.json')!r}, 'w'))"
    config = configuration(command=script(tmp_path, code), env={"SHOP_URL": "https://shop", "KEY": FromEnv(var="K")})
    result = run(task_job(tmp_path, config, environ={"PATH": "/bin", "K": "s3cret", "BASE": "kept"}))
    assert result.outcome is Outcome.SUCCESS
    env = json.loads((tmp_path / "env.json").read_text())
    assert {k: env[k] for k in ("SHOP_URL", "KEY", "BASE")} == {
        "SHOP_URL": "https://shop",
        "KEY": "s3cret",
        "BASE": "kept",
    }
    assert env["ORCHRECON_RUN_ID"] == "run-1"
    assert env["ORCHRECON_ORCHESTRATION"] == "daily-sales"
    assert env["ORCHRECON_TASK"] == "shop-orders"
    assert env["ORCHRECON_CONFIG"] == "ex-shop/orders"
    assert json.loads(env["ORCHRECON_PARAMETERS"]) == {"incremental": True, "days": 3}
    assert env["ORCHRECON_TOKEN"] == TOKEN


def test_a_missing_secret_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config = configuration(
        command=script(tmp_path, f"open({str(marker)!r}, 'w')"), env={"KEY": FromEnv(var="SHOP_KEY")}
    )
    job = task_job(tmp_path, config)
    result = run(job)
    assert (result.outcome, result.error) == (Outcome.ERROR, "environment variable SHOP_KEY is not set")
    assert not marker.exists()
    assert "SHOP_KEY is not set" in job.log_path.read_text()


def test_secrets_from_env_are_redacted_from_the_log(tmp_path: Path) -> None:
    config = configuration(
        command=script(tmp_path, "import os\nprint('key', os.environ['KEY'])"), env={"KEY": FromEnv(var="K")}
    )
    job = task_job(tmp_path, config, environ={"K": "hunter22"})
    assert run(job).outcome is Outcome.SUCCESS
    assert job.log_path.read_text() == "key ***\n"


def test_python_means_orchrecons_interpreter(tmp_path: Path) -> None:
    code = "import os, sys\nprint(os.environ['PATH'])\nprint(sys.prefix)"
    job = task_job(tmp_path, configuration(command=("python", "-c", code)), environ={"PATH": "/usr/bin:/bin"})
    assert run(job).outcome is Outcome.SUCCESS
    path, prefix = job.log_path.read_text().splitlines()
    assert path == f"{Path(sys.executable).parent}{os.pathsep}/usr/bin:/bin"
    assert prefix == sys.prefix


def test_cwd_is_the_repository_root_or_run_cwd_under_it(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    command = (sys.executable, "-c", "import os\nprint(os.getcwd())")
    outputs = []
    for cwd in (None, "jobs"):
        job = task_job(tmp_path, configuration(command=command, cwd=cwd))
        assert run(job).outcome is Outcome.SUCCESS
        outputs.append(job.log_path.read_text().strip())
    assert outputs == [str(tmp_path), str(tmp_path / "jobs")]


def test_a_missing_cwd_is_an_error(tmp_path: Path) -> None:
    result = run(task_job(tmp_path, configuration(command=(sys.executable, "-V"), cwd="nowhere")))
    assert (result.outcome, result.error) == (Outcome.ERROR, "working directory 'nowhere' does not exist")


def test_the_token_is_redacted_even_when_printed_in_pieces(tmp_path: Path) -> None:
    # Each byte in its own write with a pause, so the reads on our side split the token.
    code = (
        "import sys, time\n"
        f"for ch in 'token=' + {TOKEN!r} + ' end':\n"
        "    sys.stdout.write(ch); sys.stdout.flush(); time.sleep(0.002)\n"
    )
    job = task_job(tmp_path, configuration(command=script(tmp_path, code)))
    assert run(job).outcome is Outcome.SUCCESS
    assert job.log_path.read_text() == "token=*** end"


def test_the_log_cap_keeps_the_tail(tmp_path: Path) -> None:
    lines = 60_000  # about 3 MiB, three times the cap
    code = f"import sys\nsys.stdout.writelines(f'line {{i:06d}} ' + 'x' * 40 + '\\n' for i in range({lines}))"
    expected = "".join(f"line {i:06d} " + "x" * 40 + "\n" for i in range(lines)).encode()
    job = task_job(tmp_path, configuration(command=script(tmp_path, code)))
    executor = CommandExecutor(kill_grace=0.2, log_cap=1024 * 1024, log_keep=512 * 1024)
    assert run(job, executor).outcome is Outcome.SUCCESS
    marker, _, tail = job.log_path.read_bytes().partition(b"\n")
    dropped = len(expected) - len(tail)
    assert marker == f"[orchrecon] log over 1048576 bytes: {dropped} bytes of earlier output dropped".encode()
    assert 512 * 1024 <= len(tail) < 1024 * 1024 - len(marker)
    assert tail == expected[dropped:]


def test_the_default_cap_holds_for_12_mib(tmp_path: Path) -> None:
    code = "import sys\nchunk = b'y' * 1023 + b'\\n'\nfor _ in range(12 * 1024):\n    sys.stdout.buffer.write(chunk)"
    job = task_job(tmp_path, configuration(command=script(tmp_path, code)))
    assert run(job).outcome is Outcome.SUCCESS
    data = job.log_path.read_bytes()
    marker, _, tail = data.partition(b"\n")
    dropped = int(marker.removeprefix(b"[orchrecon] log over 10485760 bytes: ").split()[0])
    assert len(data) <= 10 * 1024 * 1024
    assert len(tail) >= 8 * 1024 * 1024
    assert dropped + len(tail) == 12 * 1024 * 1024
    assert tail.endswith(b"y" * 1023 + b"\n")


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    code = spawn_grandchild(tmp_path) + "time.sleep(60)\n"
    job = task_job(tmp_path, configuration(command=script(tmp_path, code), timeout=timedelta(seconds=1)))
    result = run(job)
    assert (result.outcome, result.error) == (Outcome.ERROR, "timed out after 1s")
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    assert wait_until(lambda: not alive(grandchild))
    assert "timed out after 1s; the process group was killed" in job.log_path.read_text()


def test_processes_left_behind_after_a_success_are_stopped(tmp_path: Path) -> None:
    # The grandchild keeps the output pipe open; without cleanup the task would last until its timeout.
    code = (
        spawn_grandchild(tmp_path) + f"while not __import__('os').path.exists({str(tmp_path / 'grandchild.pid')!r}):\n"
    )
    code += "    time.sleep(0.01)\n"
    result = run(task_job(tmp_path, configuration(command=script(tmp_path, code))))
    assert result.outcome is Outcome.SUCCESS
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    assert wait_until(lambda: not alive(grandchild))


def test_cancellation_kills_the_group_and_propagates(tmp_path: Path) -> None:
    code = f"import os\nopen({str(tmp_path / 'child.pid')!r}, 'w').write(str(os.getpid()))\n"
    code += spawn_grandchild(tmp_path) + "time.sleep(60)\n"
    job = task_job(tmp_path, configuration(command=script(tmp_path, code)))

    async def scenario() -> None:
        task = asyncio.create_task(FAST.run(job))
        assert await async_wait_until((tmp_path / "grandchild.pid").exists)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    pids = [int((tmp_path / name).read_text()) for name in ("child.pid", "grandchild.pid")]
    assert wait_until(lambda: not any(alive(pid) for pid in pids))
    assert "cancelled; the process group was killed" in job.log_path.read_text()


def test_a_command_that_does_not_exist(tmp_path: Path) -> None:
    job = task_job(tmp_path, configuration(command=("no-such-command-here", "--flag")))
    result = run(job)
    assert (result.outcome, result.error) == (
        Outcome.ERROR,
        "cannot start 'no-such-command-here': No such file or directory",
    )
    assert "cannot start" in job.log_path.read_text()


def test_a_file_that_is_not_executable(tmp_path: Path) -> None:
    (tmp_path / "job.sh").write_text("echo hi\n")
    result = run(task_job(tmp_path, configuration(command=(str(tmp_path / "job.sh"),))))
    assert result.error == f"cannot start '{tmp_path / 'job.sh'}': Permission denied"
