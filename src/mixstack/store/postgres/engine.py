"""PostgreSQL through a psycopg 3 connection pool: migrations, reads, and a writer thread.

Migrations (`postgres/migrations/NNNN_name.sql`) run once, under an advisory lock, so
replicas starting together apply each step once; a database newer than this mixstack is
refused, as on SQLite. Fire-and-forget rows (the call log, traces) go through one writer
thread that commits them in batches, with multi-row INSERTs, off the request path; a
journaled row is also appended to this process's journal first, so a `kill -9` loses no call
a client was told about (the next store opened on this machine replays it).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from mixstack.errors import ConfigError
from mixstack.store.journal import Journal, dead_journals, read_journal

__all__ = ["PgEngine", "migration_scripts"]

log = logging.getLogger("mixstack.store")
T = TypeVar("T")

#: any constant: the advisory lock replicas take to migrate one at a time
_MIGRATE_LOCK = 0x6D697873
_BATCH = 512
#: how long a queued write waits for others to share its commit: a commit costs the writer
#: thread about as much Python as the request it logs, and each one it makes competes with
#: the request path for the interpreter (at concurrency 1, 5 ms committed nearly every row
#: alone: 0.38 ms of writer CPU a request; 50 ms: 0.10). Journaled rows survive a crash
#: meanwhile; `flush` waits for everything queued.
_GROUP_S = 0.05
_INSERT_VALUES = re.compile(r"(?is)^\s*(INSERT\b.*?\bVALUES\s*)(\([\s%s,]*\))(.*)$")
_ROWS_PER_INSERT = (64, 16, 4, 1)

Params = Sequence[Any] | dict[str, Any]
#: a run of commuting writes of one statement → one write with the same effect
Merge = Callable[[list[Params]], tuple[str, Params]]


def migration_scripts() -> list[tuple[int, str]]:
    found = []
    for item in resources.files("mixstack.store.postgres.migrations").iterdir():
        if item.name.endswith(".sql") and item.name[:4].isdigit():
            found.append((int(item.name[:4]), item.read_text(encoding="utf-8")))
    found.sort()
    if [n for n, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError("PostgreSQL migrations must be numbered 1..N without gaps")
    return found


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


class PgEngine:
    def __init__(self, url: str, *, pool_size: int = 8, journal_home: Path | None = None):
        self.url = url
        try:  # one plain connection first: a wrong database or password is said at once
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.OperationalError as exc:
            reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise ConfigError(
                f"cannot connect to PostgreSQL at {_redacted(url)}: {reason}; start it, or fix "
                "the `store:` URL (postgresql://user:password@host:port/db)."
            ) from None
        self.pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            url,
            connection_class=psycopg.Connection[DictRow],
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=False,
            name="mixstack",
        )
        try:
            self.pool.open(wait=True, timeout=15)
        except PoolTimeout:
            self.pool.close()
            raise ConfigError(
                f"cannot reach PostgreSQL at {_redacted(url)} within 15 s; start it, or fix "
                "the `store:` URL (postgresql://user:password@host:port/db)."
            ) from None
        self.version = self._migrate()
        #: reads and waited writes from the event loop run here, never on the loop
        self._threads = ThreadPoolExecutor(pool_size, thread_name_prefix="mixstack-pg")
        self._queue: queue.SimpleQueue[tuple[str, Params] | Future[None] | None] = (
            queue.SimpleQueue()
        )
        self._journal_dir = (journal_home or Path.home()) / (
            "postgres-" + hashlib.sha256(_redacted(url).encode()).hexdigest()[:12]
        )
        self._journal: Journal | None = None
        self._journal_lock = threading.Lock()
        #: writes that may go grouped, out of order (`commutes`)
        self._commuting: dict[str, Merge | None] = {}
        self._closed = False
        self._flush_hooks: list[Callable[[], None]] = []
        self._close_hooks: list[Callable[[], None]] = []
        self.replay_journals()
        self._writer = threading.Thread(target=self._write_loop, name="mixstack-pg-writer")
        self._writer.daemon = True
        self._writer.start()

    # -- schema -------------------------------------------------------------------------

    def _migrate(self) -> int:
        scripts = migration_scripts()
        latest = len(scripts)
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATE_LOCK,))
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS mixstack_schema (version INTEGER NOT NULL)"
                )
                row = conn.execute("SELECT max(version) AS v FROM mixstack_schema").fetchone()
                current = int(row["v"]) if row and row["v"] is not None else 0
                if current > latest:
                    raise ConfigError(
                        f"the store at {_redacted(self.url)} has schema {current}, newer than "
                        f"this mixstack ({latest}); upgrade mixstack or use another database."
                    )
                for number, sql in scripts:
                    if number <= current:
                        continue
                    with conn.transaction():
                        conn.execute(sql.encode())
                        conn.execute("INSERT INTO mixstack_schema (version) VALUES (%s)", (number,))
                    current = number
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATE_LOCK,))
        return current

    # -- reads and waited writes ----------------------------------------------------------

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self.pool.connection() as conn:
            return list(conn.execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        with self.pool.connection() as conn:
            row: dict[str, Any] | None = conn.execute(sql, params).fetchone()
            return row

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement now; returns the rows it changed."""
        with self.pool.connection() as conn:
            return conn.execute(sql, params).rowcount

    async def run(self, fn: Callable[[], T]) -> T:
        """`fn` in this store's threads: the event loop never waits on the database."""
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn)

    async def aquery_one(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        return await self.run(lambda: self.query_one(sql, params))

    async def aquery(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return await self.run(lambda: self.query(sql, params))

    async def aexecute(self, sql: str, params: Params = ()) -> int:
        return await self.run(lambda: self.execute(sql, params))

    # -- queued writes --------------------------------------------------------------------

    def submit(self, sql: str, params: Params = ()) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        self._queue.put((sql, params))

    def commutes(self, sql: str, merge: Merge | None = None) -> None:
        """Declare that queued `sql` writes commute with every other queued write (a row
        appended under a new key, a counter added to): a batch sends them grouped, one
        statement per kind, instead of in the order they came. Interleaved with other
        writes (each keyed call queues its log row and its spend), they would otherwise
        go one statement and one round trip each. `merge` turns a run of them into one
        write with the same effect (additions to the same counters summed)."""
        self._commuting[sql] = merge

    def submit_journaled(self, sql: str, params: Sequence[Any], replay_sql: str) -> None:
        """`submit`, durable through a crash of the process once this returns; a replay
        runs `replay_sql` (which must skip a row that did commit)."""
        with self._journal_lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            if self._journal is None:
                self._journal = Journal(self._journal_dir / "calls")
            self._journal.append(replay_sql, params)
            self._queue.put((sql, params))

    def on_flush(self, hook: Callable[[], None]) -> None:
        self._flush_hooks.append(hook)

    def on_close(self, hook: Callable[[], None]) -> None:
        self._close_hooks.append(hook)

    def flush(self) -> None:
        if self._closed:
            return
        for hook in self._flush_hooks:
            hook()
        done: Future[None] = Future()
        self._queue.put(done)
        done.result()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            batch: list[tuple[str, Params]] = []
            waiters: list[Future[None]] = []
            stop = False
            if item is None:
                stop = True
            elif isinstance(item, Future):
                waiters.append(item)
            else:
                batch.append(item)
                threading.Event().wait(_GROUP_S)  # let a burst share the commit
            while len(batch) < _BATCH and not stop:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                elif isinstance(nxt, Future):
                    waiters.append(nxt)
                else:
                    batch.append(nxt)
            if batch:
                self._commit(batch)
                self._committed()
            for waiter in waiters:
                waiter.set_result(None)
            if stop:
                return

    def _committed(self) -> None:
        if self._journal is not None and self._journal.pending:
            with self._journal_lock:
                if self._queue.empty():
                    self._journal.clear()

    def _commit(self, batch: list[tuple[str, Params]]) -> None:
        batch = _grouped(batch, self._commuting)
        try:
            # pipeline mode: the batch's statements, BEGIN and COMMIT go in one round trip
            with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
                _write_runs(conn, batch)
        except psycopg.Error as exc:  # one bad row: the others on their own, the bad one said
            log.warning(
                "a batch of %d writes failed (%s); writing them one by one", len(batch), exc
            )
            for sql, params in batch:
                try:
                    with self.pool.connection() as conn:
                        conn.execute(sql, params)
                except psycopg.Error as one:
                    log.error("a queued write failed: %s (%s)", one, sql[:80])

    # -- journals -------------------------------------------------------------------------

    def replay_journals(self) -> int:
        """Commit the journaled rows of processes on this machine that are gone."""
        replayed = 0
        for path in dead_journals(self._journal_dir / "calls"):
            rows = read_journal(path)
            try:
                with self.pool.connection() as conn, conn.transaction():
                    for sql, params in rows:
                        conn.execute(sql, params)
            except psycopg.Error as exc:
                log.error("could not replay the store journal %s: %s", path, exc)
                continue
            path.unlink()
            replayed += len(rows)
            if rows:
                log.warning("replayed %d journaled rows from %s", len(rows), path.name)
        return replayed

    def close(self) -> None:
        if self._closed:
            return
        for hook in self._close_hooks:
            hook()
        self.flush()
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        if self._journal is not None:
            self._journal.close()
        self._threads.shutdown(wait=True)
        self.pool.close()


def _grouped(
    batch: list[tuple[str, Params]], commuting: dict[str, Merge | None]
) -> list[tuple[str, Params]]:
    """The batch with its commuting writes after the others, grouped by statement (or
    merged into one where the statement has a merge)."""
    if not commuting:
        return batch
    ordered: list[tuple[str, Params]] = []
    groups: dict[str, list[Params]] = {}
    for sql, params in batch:
        if sql in commuting:
            groups.setdefault(sql, []).append(params)
        else:
            ordered.append((sql, params))
    for sql, rows in groups.items():
        merge = commuting[sql]
        if merge is not None and len(rows) > 1:
            ordered.append(merge(rows))
        else:
            ordered += [(sql, row) for row in rows]
    return ordered


def _write_runs(conn: psycopg.Connection[DictRow], batch: list[tuple[str, Params]]) -> None:
    """Runs of the same INSERT go as multi-row statements; anything else one by one."""
    i = 0
    while i < len(batch):
        sql = batch[i][0]
        j = i + 1
        while j < len(batch) and batch[j][0] == sql:
            j += 1
        rows = [params for _, params in batch[i:j]]
        insert = _INSERT_VALUES.match(sql)
        if len(rows) == 1:
            conn.execute(sql, rows[0])
        elif insert is None or not isinstance(rows[0], Sequence):
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
        else:
            head, one, tail = insert.group(1), insert.group(2), insert.group(3)
            start = 0
            for size in _ROWS_PER_INSERT:
                while len(rows) - start >= size:
                    chunk = rows[start : start + size]
                    flat = [v for row in chunk for v in row]
                    conn.execute(head + ",".join([one] * size) + tail, flat)
                    start += size
        i = j
