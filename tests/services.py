"""PostgreSQL and Redis servers the tests start themselves, in temp dirs, from the Debian
packages (`postgresql`, `redis-server`; see system-packages.txt), on 127.0.0.1 only, and
the `mixstack serve` replicas that share them (`Replicas`).

PostgreSQL refuses to run as root: as root, the server runs as the `postgres` system user
the package creates. Each server is stopped (and its directory removed) when the fixture
ends.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Postgres",
    "Redis",
    "Replicas",
    "create_database",
    "pg_bin",
    "postgres_server",
    "redis_server",
]


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


#: budget holds in Redis with short leases and grace (the defaults are seconds longer), so
#: tests of expiry and rebuilds stay quick
FAST_HOLDS = {"lease_s": 2.0, "beat_s": 0.3, "grace_s": 1.0}


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


class Replicas:
    """`count` `mixstack serve` processes on 127.0.0.1 (each with `workers` workers) with one
    config and environment (`MIXSTACK_STORE`, `MIXSTACK_REDIS`, … name what they share).
    Each one's stderr goes to `logs/replica-<n>.log` (nowhere without `logs`). A context
    manager: started and ready on entry, stopped on exit."""

    def __init__(
        self,
        config: Path,
        env: dict[str, str],
        count: int,
        *,
        workers: int = 1,
        logs: Path | None = None,
    ):
        self.ports = [_free_port() for _ in range(count)]
        self.logs = [] if logs is None else [logs / f"replica-{n}.log" for n in range(count)]
        self.procs = [
            self._start(config, env, port, workers, self.logs[n] if self.logs else None)
            for n, port in enumerate(self.ports)
        ]

    @staticmethod
    def _start(
        config: Path, env: dict[str, str], port: int, workers: int, log: Path | None
    ) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "mixstack", "serve", "--config", str(config)]
        argv += ["--port", str(port), "--workers", str(workers)]
        with contextlib.ExitStack() as stack:
            # the child keeps its own descriptor of the log
            sink = stack.enter_context(log.open("wb")) if log else subprocess.DEVNULL
            return subprocess.Popen(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True
            )

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until every replica answers `/health` (an error naming the one that exited)."""
        import httpx

        for url, proc in zip(self.urls, self.procs, strict=True):
            deadline = time.monotonic() + timeout_s
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"replica {url} exited; see its log")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"replica {url} did not become ready")
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to each replica's process group; SIGKILL to one still running after 20 s."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def __enter__(self) -> Replicas:
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
