"""PostgreSQL and Redis servers the tests start themselves, in temp dirs, from the Debian
packages (`postgresql`, `redis-server`; see system-packages.txt), on 127.0.0.1 only.

PostgreSQL refuses to run as root: as root, the server runs as the `postgres` system user
the package creates. Each server is stopped (and its directory removed) when the fixture
ends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Postgres", "Redis", "create_database", "pg_bin", "postgres_server", "redis_server"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed from the Debian packages."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: p.split("/")[4])
    return Path(found[-1]).parent if found else None


@dataclass(frozen=True)
class Postgres:
    url: str
    port: int
    data: Path

    def restart_url(self, db: str) -> str:
        return f"postgresql://mixstack@127.0.0.1:{self.port}/{db}"


def create_database(server: Postgres) -> str:
    """A fresh, empty database on `server`; its URL."""
    import secrets

    import psycopg

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.restart_url(name)


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    bin_dir = pg_bin()
    if bin_dir is None:
        raise RuntimeError(
            "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); install the Debian "
            "package `postgresql` (system-packages.txt)"
        )
    root = Path(tempfile.mkdtemp(prefix="mixstack-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "mixstack",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "mixstack",
                    "mixstack",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield Postgres(f"postgresql://mixstack@127.0.0.1:{port}/mixstack", port, data)
    finally:
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Redis:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    root: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    def start(self) -> None:
        """(Re)start on the same port (a Redis restart, as the tests of degraded limits do)."""
        self.process = _spawn_redis(self.port, self.root)


def _spawn_redis(port: int, root: Path) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError("no redis-server; install the Debian package `redis-server`")
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(root),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not listen on 127.0.0.1:{port} within 30 s")


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    root = Path(tempfile.mkdtemp(prefix="mixstack-redis-"))
    port = _free_port()
    server = Redis(f"redis://127.0.0.1:{port}/0", port, _spawn_redis(port, root), root)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
