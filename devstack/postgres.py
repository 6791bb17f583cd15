"""A PostgreSQL server of the project's own, in a data folder: Debian's binaries, started as their own user.

The cluster topology keeps Temporal's two databases and the read model here unless `DATABASE_URL` names an existing
server; the tests use it for everything that must run on PostgreSQL."""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO

from devstack.stack import StackError

log = logging.getLogger("motcua.devstack.postgres")

SUPERUSER = "motcua"
# PostgreSQL refuses to run as root; a root caller hands the data folder to this account.
SERVICE_ACCOUNT = "postgres"


class PostgresError(StackError):
    pass


def _write_private(path: Path, text: str) -> None:
    """A file only its owner reads, from its first byte on."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def find_binaries() -> Path:
    """Debian's server binaries (the newest installed major version), or a `postgres` on PATH."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if installed:
        return installed[-1].parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresError("PostgreSQL's server is not installed: run `make postgres` (Debian's postgresql package)")


@dataclass
class PostgresServer:
    """One server on 127.0.0.1:`port`, its cluster in `data_dir` (created on first start, kept afterwards)."""

    data_dir: Path
    port: int
    log_path: Path

    def __post_init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @cached_property
    def server_dir(self) -> Path:
        """Where the server's own files live (its cluster, its socket): the data folder, unless the service account
        cannot reach it (a checkout in root's home, say); then a folder of the data folder's own in the system's
        temporary directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return self.data_dir
        self._hand_over(self.data_dir)
        if subprocess.run(["test", "-w", str(self.data_dir)], **self._as_service_account()).returncode == 0:
            return self.data_dir
        fallback = (
            Path(tempfile.gettempdir()) / f"motcua-postgres-{hashlib.sha256(bytes(self.data_dir)).hexdigest()[:12]}"
        )
        fallback.mkdir(mode=0o700, exist_ok=True)
        self._hand_over(fallback)
        log.warning("%s cannot reach %s: PostgreSQL keeps its files in %s", SERVICE_ACCOUNT, self.data_dir, fallback)
        return fallback

    @property
    def cluster_dir(self) -> Path:
        return self.server_dir / "cluster"

    @property
    def password_file(self) -> Path:
        return self.data_dir / "superuser-password"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    def url(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60) -> None:
        binaries = find_binaries()
        if (self.cluster_dir / "PG_VERSION").exists() and not self.password_file.exists():
            if self.server_dir == self.data_dir:
                raise PostgresError(f"{self.password_file} is missing: the cluster in {self.cluster_dir} is unusable")
            # The data folder was removed (a test's fresh start) and the cluster it kept elsewhere went with it.
            shutil.rmtree(self.cluster_dir)
        if not (self.cluster_dir / "PG_VERSION").exists():
            self._initdb(binaries)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self._log is not None:  # started again after a crash
            self._log.close()
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        socket_dir = self.server_dir / "socket"
        socket_dir.mkdir(exist_ok=True)
        self._hand_over(socket_dir)
        self.process = subprocess.Popen(
            [
                str(binaries / "postgres"),
                "-D",
                str(self.cluster_dir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(socket_dir),
                # Temporal's four services, two workers and two API processes each keep a pool.
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=256MB",
            ],  # fmt: skip
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **self._as_service_account(),
        )
        try:
            self._wait_until_ready(binaries, timeout)
        except BaseException:
            self.stop(signal.SIGQUIT)  # a server that never became ready is not left behind
            raise

    def stop(self, sig: int = signal.SIGINT) -> None:
        """SIGINT is PostgreSQL's fast shutdown (clients disconnected, then a checkpoint); SIGKILL is a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def create_database(self, name: str) -> None:
        """Create `name` unless it exists."""
        import psycopg

        with psycopg.connect(self.url("postgres", driver="postgresql"), autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres", driver="postgresql"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # ----------------------------------------------------------------------------- helpers

    def _initdb(self, binaries: Path) -> None:
        password = secrets.token_urlsafe(24)
        _write_private(self.password_file, password + "\n")
        password_for_initdb = self.server_dir / ".initdb-password"
        _write_private(password_for_initdb, password + "\n")
        self._hand_over(password_for_initdb)
        try:
            result = subprocess.run(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(self.cluster_dir),
                    "-U",
                    SUPERUSER,
                    "--pwfile",
                    str(password_for_initdb),
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],  # fmt: skip
                capture_output=True,
                text=True,
                **self._as_service_account(),
            )
        finally:
            password_for_initdb.unlink(missing_ok=True)
        if result.returncode != 0:
            raise PostgresError(f"initdb failed:\n{result.stdout}{result.stderr}")
        log.info("created a PostgreSQL cluster in %s", self.cluster_dir)

    def _as_service_account(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        account = pwd.getpwnam(SERVICE_ACCOUNT)
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    def _hand_over(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        account = pwd.getpwnam(SERVICE_ACCOUNT)
        for path in paths:
            os.chown(path, account.pw_uid, account.pw_gid)

    def _wait_until_ready(self, binaries: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
                raise PostgresError(f"PostgreSQL exited with code {self.process.returncode}\n" + "\n".join(tail))
            ready = subprocess.run(
                [str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"], check=False
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise PostgresError(f"PostgreSQL did not accept connections on port {self.port} within {timeout}s")
