"""A real PostgreSQL server for the tests: Debian's `initdb` and `pg_ctl` in a temporary folder, on a free
loopback port.

The server runs as the user running the tests, or as `nobody` when that is root (initdb refuses to run as
root): the subprocesses are started with that user's ids and the folder is handed to it. The cluster trusts
every local connection (`--auth=trust`) and runs with `fsync=off` unless `durable` (benchmarks): it holds
throwaway test databases, and commit order and visibility, which the tests check, do not depend on fsync.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

NOT_FOUND = "PostgreSQL server binaries not found: install Debian's postgresql package"
USER = "orchrecon"  # the cluster's superuser
_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_START_ATTEMPTS = 3  # a free port can be taken by someone else between finding it and the server binding it


def unavailable(reason: str) -> NoReturn:
    """Skip the test, saying why; fail it instead under `ORCHRECON_TEST_POSTGRES=required` (CI, which installs the
    packages), so a CI machine that lost them is noticed rather than silently skipping the backend."""
    if os.environ.get("ORCHRECON_TEST_POSTGRES") == "required":
        pytest.fail(reason)
    pytest.skip(reason)


def find_binaries() -> Path | None:
    """The folder holding `initdb`, `pg_ctl` and `postgres`: initdb's own folder when it is on PATH (Debian's
    /usr/local/bin/initdb is a link into it), else the newest /usr/lib/postgresql/*/bin; None if neither."""
    candidates: list[Path] = []
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    candidates += sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in _PROGRAMS):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path
    port: int = 0
    durable: bool = False  # fsync on, as in production (benchmarks); the tests need no durability
    run_as: pwd.struct_passwd | None = None  # None: as ourselves
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, argv: Sequence[str]) -> None:
        user = self.run_as
        done = subprocess.run(
            [str(self.bindir / argv[0]), *argv[1:]],
            cwd=self.folder,  # nobody may not enter the working directory
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
            capture_output=True,
            text=True,
            check=False,
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],  # not root's groups
        )
        if done.returncode != 0:
            raise AssertionError(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()} {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        except OSError:
            return ""

    def init(self) -> None:
        if self.run_as is not None:
            os.chown(self.folder, self.run_as.pw_uid, self.run_as.pw_gid)
        argv = ["initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        self._run(argv)
        (self.folder / "sockets").mkdir()
        if self.run_as is not None:
            os.chown(self.folder / "sockets", self.run_as.pw_uid, self.run_as.pw_gid)

    def start(self) -> None:
        """Start on a free port, trying another one if it was taken meanwhile."""
        for attempt in range(_START_ATTEMPTS):
            self.port = _free_port()
            options = f"-p {self.port} -k {self.folder / 'sockets'} -c listen_addresses=127.0.0.1"
            if not self.durable:
                options += " -c fsync=off"
            try:
                self._run(["pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"])
            except AssertionError:
                if attempt == _START_ATTEMPTS - 1:
                    raise
            else:
                return

    def stop(self) -> None:
        self._run(["pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def create_database(self) -> str:
        """A new empty database (from template0: nothing a test left in template1); its URL."""
        name = f"t_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop it, ending the sessions a test left connected."""
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def transaction_pooler(server: PostgresServer) -> Iterator[str]:
    """PgBouncer in front of `server` in transaction pooling mode (as a hosted database's pooler often is); yields
    the URL of the server's `postgres` database through it. Skips the test when pgbouncer is not installed."""
    pgbouncer = shutil.which("pgbouncer") or next((p for p in ["/usr/sbin/pgbouncer"] if Path(p).exists()), None)
    if pgbouncer is None:
        unavailable("pgbouncer not found: install Debian's pgbouncer package")
    port = _free_port()
    config = server.folder / f"pgbouncer-{port}.ini"
    config.write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={server.port} user={USER}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        "auth_type = any\npool_mode = transaction\ndefault_pool_size = 4\n",
        encoding="utf-8",
    )
    user = server.run_as
    process = subprocess.Popen(
        [pgbouncer, str(config)],
        cwd=server.folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=None if user is None else user.pw_uid,  # it refuses to run as root too
        group=None if user is None else user.pw_gid,
        extra_groups=None if user is None else [],
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"pgbouncer did not start (exit status {process.poll()})") from None
                time.sleep(0.02)
        yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    finally:
        process.terminate()
        process.wait()


def start_server(*, durable: bool = False) -> PostgresServer | None:
    """A started server in a new temporary folder (outside pytest's, which `nobody` cannot enter), or None when
    this machine has no PostgreSQL server binaries. Call `stop_server` when done."""
    bindir = find_binaries()
    if bindir is None:
        return None
    run_as = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="orchrecon-pg-"))
    server = PostgresServer(bindir=bindir, folder=folder, run_as=run_as, durable=durable)
    try:
        server.init()
        server.start()
    except BaseException:
        shutil.rmtree(server.folder, ignore_errors=True)
        raise
    return server


def stop_server(server: PostgresServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)


def migrated(url: str) -> str:
    """`url`, its database migrated to this orchrecon's schema (as `orchrecon db migrate` does)."""
    from orchrecon.store.postgresql.database import Database  # noqa: PLC0415 - bench/ imports this module too
    from orchrecon.store.postgresql.schema import migrate  # noqa: PLC0415

    with Database(url).connect() as conn:
        migrate(conn)
    return url
