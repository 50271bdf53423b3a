"""A throwaway PostgreSQL cluster for the PostgreSQL tests and benchmark, plus their fixtures.

`PgServer` runs Debian's (or any) ``initdb``/``pg_ctl`` in a temporary directory, on a free
localhost port with password authentication, as the ``postgres`` system user when the tests run
as root (the server refuses root). `.ci/postgres.sh` installs the binaries; the session fixture
starts one cluster for the whole run. When no server can be started the PostgreSQL tests skip
with one line, unless ``DIHYA_REQUIRE_POSTGRES=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Optional

import pytest

__all__ = [
    "PgServer",
    "find_pg_bin",
    "pg_dsn_fixture",
    "pg_server_fixture",
    "require_postgres",
    "shared_server",
    "start_server",
    "unavailable",
]

PASSWORD = "s3cret-pg-Pa55"
"""The test role's password (scram-sha-256 over TCP: a wrong one is refused)."""
USER = "dihya"
REQUIRE_ENV = "DIHYA_REQUIRE_POSTGRES"
BIN_ENV = "DIHYA_PG_BIN"


def find_pg_bin() -> Optional[Path]:
    """The directory holding ``initdb`` and ``pg_ctl``: ``$DIHYA_PG_BIN`` if set, else the
    newest Debian version, else the PATH."""
    override = os.environ.get(BIN_ENV)
    if override:
        folder = Path(override)
        return folder if (folder / "initdb").exists() and (folder / "pg_ctl").exists() else None
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
        reverse=True,
    )
    found = shutil.which("initdb")
    if found:
        candidates.append(found)
    for initdb in candidates:
        folder = Path(initdb).resolve().parent
        if (folder / "pg_ctl").exists() and (folder / "postgres").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """One private cluster: ``start``/``stop``/``restart`` it, make databases, build DSNs."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="dihya-pg-"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.port = _free_port()
        self.run_as: Optional[str] = None
        if os.geteuid() == 0:  # postgres refuses to run as root
            self.run_as = "postgres"
            try:
                pwd.getpwnam(self.run_as)
            except KeyError:
                subprocess.run(
                    ["useradd", "--system", "--no-create-home", self.run_as],
                    check=True,
                    capture_output=True,
                )
            shutil.chown(self.base, user=self.run_as)
        self._run(["mkdir", "-p", str(self.socket_dir)])

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        if self.run_as is not None:
            argv = ["runuser", "-u", self.run_as, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, cwd=self.base, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()[-500:]}")
        return result

    def init(self) -> None:
        """``initdb`` the cluster: trust on the private socket, scram-sha-256 over TCP."""
        pwfile = self.base / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.run_as is not None:
            shutil.chown(pwfile, user=self.run_as)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                USER,
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ]
        )
        pwfile.unlink()

    def start(self, *, durable: bool = False) -> None:
        """Start (or restart after `stop`) the server and wait until it accepts connections.

        Tests run without fsync (fast); ``durable`` keeps PostgreSQL's defaults (benchmarks).
        """
        options = f"-p {self.port} -k {self.socket_dir} -h 127.0.0.1 -c max_connections=60"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.base / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
            ]
        )

    def running(self) -> bool:
        """Whether the server is up (``pg_ctl status``)."""
        status = self._run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "status"], check=False
        )
        return status.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m <mode>``: fast aborts open transactions and disconnects clients."""
        self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def destroy(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        self._run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            check=False,
        )
        shutil.rmtree(self.base, ignore_errors=True)

    def dsn(self, dbname: str = "postgres", *, password: Optional[str] = PASSWORD) -> str:
        """A ``postgresql://`` URL for ``dbname`` over TCP (with the password unless None)."""
        auth = USER if password is None else f"{USER}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: Optional[str] = None) -> str:
        """Create a fresh empty database and return its DSN."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            fast = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0{fast}".encode())
        return self.dsn(name)

    def psql(self, sql: str, *, dbname: str = "postgres") -> str:
        """Run SQL through ``psql`` on the private socket; return its unaligned output."""
        result = self._run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                dbname,
                "-c",
                sql,
            ]
        )
        return result.stdout.strip()


def unavailable() -> Optional[str]:
    """Why no server can be started here (cheap checks), or None."""
    if find_pg_bin() is None:
        return "no PostgreSQL server binaries (initdb) found: run .ci/postgres.sh"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install 'dihya-logging[postgres]')"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start postgres as another user"
    return None


def require_postgres() -> None:
    """Skip the calling test module, with one line for all of them, when no server can run
    here; under ``DIHYA_REQUIRE_POSTGRES=1`` (CI) fail instead."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        raise RuntimeError(f"PostgreSQL tests required but unavailable: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}", allow_module_level=True)


def start_server(*, durable: bool = False) -> PgServer:
    """Find the binaries, create and start a cluster, or raise RuntimeError saying why not."""
    reason = unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    server = PgServer(find_pg_bin())  # type: ignore[arg-type]
    try:
        server.init()
        server.start(durable=durable)
    except Exception:
        server.destroy()
        raise
    return server


_shared: list[object] = []
"""The one server of this test process (or the error that prevented it), made on first use."""


def shared_server() -> PgServer:
    """The process's server, started on first call and destroyed at exit; raises RuntimeError
    (every time, without retrying) when it cannot start."""
    if not _shared:
        try:
            server = start_server()
        except Exception as exc:
            _shared.append(RuntimeError(str(exc).splitlines()[0] if str(exc) else repr(exc)))
        else:
            _shared.append(server)
            atexit.register(server.destroy)
    found = _shared[0]
    if isinstance(found, Exception):
        raise found
    assert isinstance(found, PgServer)
    return found


@pytest.fixture(scope="session", name="pg_server")
def pg_server_fixture() -> PgServer:
    """The running cluster (one per test session, whichever modules import this fixture);
    skips (or fails under ``DIHYA_REQUIRE_POSTGRES=1``) if none can start."""
    try:
        server = shared_server()
    except RuntimeError as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"PostgreSQL tests required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    if not server.running():
        server.start()  # a test that stopped it failed before restarting it
    return server


@pytest.fixture(name="pg_dsn")
def pg_dsn_fixture(pg_server: PgServer) -> str:
    """The DSN of a fresh, empty database on the session's server."""
    return pg_server.create_database()
