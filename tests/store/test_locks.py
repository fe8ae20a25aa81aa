from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orchrecon.store.locks import FileLock, config_lock, holder_of


def test_a_lock_is_held_once_within_a_process(tmp_path: Path) -> None:
    lock = config_lock(tmp_path, "ex/a", keep_open=True)
    other = config_lock(tmp_path, "ex/a")
    assert lock.try_acquire()
    assert not lock.try_acquire()  # the same object: a second holder in this process
    assert not other.try_acquire()  # another descriptor in this process
    lock.release()
    assert other.try_acquire()
    assert not lock.try_acquire()
    other.release()
    assert lock.try_acquire()


def test_a_lock_excludes_other_processes_until_released(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "x.lock", keep_open=True)
    probe = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"
    )

    def free_elsewhere() -> bool:
        return subprocess.run([sys.executable, "-c", probe, str(lock.path)], check=False).returncode == 0

    assert lock.try_acquire()
    assert not free_elsewhere()
    lock.release()
    assert free_elsewhere()


def test_a_dead_holder_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import fcntl, os, time; fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    with holder.stdout:
        assert holder.stdout.readline() == "held\n"
    assert not FileLock(path).try_acquire()
    holder.kill()
    holder.wait()
    assert FileLock(path).try_acquire()


def test_a_holder_is_readable_while_it_holds_the_lock_and_gone_after(tmp_path: Path) -> None:
    lock = config_lock(tmp_path, "ex/a", keep_open=True)
    lock.path.write_text('{"run": "an older holder killed with a much longer description"}')
    assert lock.try_acquire({"run": "r1", "task": "a"})
    assert holder_of(lock.path) == {"run": "r1", "task": "a"}  # what a killed holder left is overwritten
    lock.release()
    assert holder_of(lock.path) is None
    assert lock.try_acquire()  # taken without saying who: nobody is named
    assert holder_of(lock.path) is None
    lock.release()
    assert holder_of(tmp_path / "missing.lock") is None
