"""A write-ahead journal for rows a client is told about before their batch commits.

The store commits fire-and-forget rows in groups, up to a window after the response went
out; a `kill -9` in that window would lose calls the client got an answer for. A journaled
row is first appended to this process's journal file (one `write` system call, no fsync: it
survives the process dying, which is the failure at hand), then queued as usual. The next
store to open the database replays the journals of processes that are gone (as
`INSERT OR IGNORE`: a row that did commit is left as it is); a live
process's journal is left alone (each process holds an exclusive lock on its own). A
journal is emptied whenever everything written to it is committed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mixstack._jsonbytes import dumps

__all__ = ["Journal", "dead_journals", "read_journal", "replay_journals"]

log = logging.getLogger("mixstack.store")

_SUFFIX = ".journal"


def _journal_dir(db: Path) -> Path:
    return db.parent / f"{db.name}-journals"


class Journal:
    """This process's journal file; `append` is called with the store's enqueue lock held."""

    def __init__(self, db: Path):
        folder = _journal_dir(db)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{os.getpid()}-{threading.get_ident()}-{id(self):x}{_SUFFIX}"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.pending = 0

    def append(self, sql: str, params: Sequence[Any]) -> None:
        # pydantic-core's serializer: this runs on the gateway's path for every call
        line = dumps([sql, params])
        os.write(self._fd, line + b"\n")
        self.pending += 1

    def clear(self) -> None:
        """Everything appended so far is committed: start the file again."""
        if self.pending:
            os.ftruncate(self._fd, 0)
            self.pending = 0

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        with contextlib.suppress(OSError):
            self.path.unlink()


def dead_journals(db: Path) -> Iterator[Path]:
    """The journals of processes that are gone, each locked while the caller handles it
    (the caller unlinks it once its rows are committed)."""
    folder = _journal_dir(db)
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{_SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its process is alive and will commit its rows itself
            yield path
        finally:
            os.close(fd)


def read_journal(path: Path) -> list[tuple[str, list[Any]]]:
    rows: list[tuple[str, list[Any]]] = []
    for line in path.read_bytes().splitlines():
        try:
            sql, params = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill: its response was never sent
        rows.append((str(sql), list(params)))
    return rows


def replay_journals(db: Path, conn: sqlite3.Connection) -> int:
    """Commit the rows of journals whose process is gone; returns how many were replayed."""
    replayed = 0
    for path in dead_journals(db):
        replayed += _replay(path, conn)
        path.unlink()
    return replayed


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _replay(path: Path, conn: sqlite3.Connection) -> int:
    rows = read_journal(path)
    if not rows:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, params in rows:
            # a row that did commit stays as it is now (it may have been updated since)
            statement = sql
            if statement.startswith("INSERT OR REPLACE"):
                statement = "INSERT OR IGNORE" + statement[len("INSERT OR REPLACE") :]
            try:
                conn.execute(statement, params)
            except UnicodeEncodeError:  # a lone surrogate a caller sent: stored escaped
                conn.execute(statement, [_escaped(v) for v in params])
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        log.error("could not replay the store journal %s: %s", path, exc)
        return 0
    log.warning("replayed %d journaled rows from %s", len(rows), path.name)
    return len(rows)
