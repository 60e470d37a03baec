"""The SQLite store: WAL mode, numbered migrations, one writer thread off the request path.

Every write goes through one background thread that commits in batches, so a front door
never waits on the disk. `write()` returns a future for writes whose result matters;
`submit()` is fire-and-forget: such rows wait up to 50 ms for others to share their commit
(group commit). A row is acknowledged once its batch commits; WAL with
`synchronous=NORMAL` keeps acknowledged rows through a crash of the process.
`submit_journaled()` also appends the row to a write-ahead journal first (see `journal.py`),
so a row a client was told about survives a `kill -9` before its batch commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from mixstack.errors import StoreFeatureError
from mixstack.store.journal import Journal, replay_journals

if TYPE_CHECKING:
    from mixstack.store.alerts import AlertTable
    from mixstack.store.sqlite.budgets import SQLiteBudgets
    from mixstack.store.sqlite.calls import SQLiteCalls
    from mixstack.store.sqlite.chain import SQLiteChain
    from mixstack.store.sqlite.dashboard import SQLiteDashboard
    from mixstack.store.sqlite.keys import SQLiteKeys
    from mixstack.store.sqlite.rates import SQLiteRates
    from mixstack.store.sqlite.responses import SQLiteResponses
    from mixstack.store.sqlite.runs import SQLiteRuns
    from mixstack.store.sqlite.traces import SQLiteTraces

__all__ = ["SQLiteStore", "apply_migrations", "inspect_file", "migration_scripts", "sqlite_of"]

log = logging.getLogger("mixstack.store")

_BATCH = 256
#: how long a fire-and-forget row waits for others to share its commit
_GROUP_S = 0.05

Params = Sequence[Any] | dict[str, Any]


def migration_scripts() -> list[tuple[int, str, str]]:
    """(number, name, sql) for each `NNNN_name.sql` in `mixstack.store.migrations`, in order."""
    found = []
    for item in resources.files("mixstack.store.migrations").iterdir():
        name = item.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, item.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        # a gap would let a database at a later version silently skip the missing step
        raise RuntimeError(f"migrations must be numbered 1..N without gaps, got {numbers}")
    return found


def apply_migrations(conn: sqlite3.Connection, upto: int | None = None) -> int:
    """Bring the schema to `upto` (default: latest). Returns the resulting version."""
    current: int = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, _name, sql in migration_scripts():
        if number <= current or (upto is not None and number > upto):
            continue
        try:
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        except sqlite3.OperationalError:
            # another process (e.g. a second gateway worker) may have applied it meanwhile
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if conn.execute("PRAGMA user_version").fetchone()[0] < number:
                raise
        current = number
    return current


def inspect_file(path: Path) -> tuple[int, str]:
    """(schema version, `quick_check` verdict) of a database file, opened read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
        integrity: str = conn.execute("PRAGMA quick_check").fetchone()[0]
    finally:
        conn.close()
    return version, integrity


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class _Write:
    __slots__ = ("future", "many", "params", "sql")

    def __init__(
        self, sql: str, params: Params | list[Params], many: bool, future: Future[int] | None
    ):
        self.sql = sql
        self.params = params
        self.many = many
        #: None for fire-and-forget rows (`submit`): nobody waits, so none is made
        self.future = future


class SQLiteStore:
    """A SQLite file under the mixstack home, shared by every front door of a process."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        setup = _connect(self.path)
        try:
            self.version = apply_migrations(setup)
            replay_journals(self.path, setup)
        finally:
            setup.close()
        self._journal: Journal | None = None
        self._journal_lock = threading.Lock()
        self._read = _connect(self.path)
        self._read_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        #: set when a write someone waits for is queued
        self._waited = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="mixstack-store", daemon=True)
        self._closed = False
        #: run before each `flush()` (and so before `close()`): buffers that feed the queue
        self._flush_hooks: list[Callable[[], None]] = []
        #: run once at `close()`, before the last flush (a lease's heartbeat stops there)
        self._close_hooks: list[Callable[[], None]] = []
        self._writer.start()

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    # -- repositories (built on first use) ------------------------------------------------

    @functools.cached_property
    def keys(self) -> SQLiteKeys:
        from mixstack.store.sqlite.keys import SQLiteKeys

        return SQLiteKeys(self)

    @functools.cached_property
    def budgets(self) -> SQLiteBudgets:
        from mixstack.store.sqlite.budgets import SQLiteBudgets

        return SQLiteBudgets(self)

    @functools.cached_property
    def calls(self) -> SQLiteCalls:
        from mixstack.store.sqlite.calls import SQLiteCalls

        return SQLiteCalls(self)

    @functools.cached_property
    def traces(self) -> SQLiteTraces:
        from mixstack.store.sqlite.traces import SQLiteTraces

        return SQLiteTraces(self)

    @functools.cached_property
    def responses(self) -> SQLiteResponses:
        from mixstack.store.sqlite.responses import SQLiteResponses

        return SQLiteResponses(self)

    @functools.cached_property
    def rates(self) -> SQLiteRates:
        from mixstack.store.sqlite.rates import SQLiteRates

        return SQLiteRates(self)

    @functools.cached_property
    def runs(self) -> SQLiteRuns:
        from mixstack.store.sqlite.runs import SQLiteRuns

        return SQLiteRuns(self)

    @functools.cached_property
    def dashboard(self) -> SQLiteDashboard:
        from mixstack.store.sqlite.dashboard import SQLiteDashboard

        return SQLiteDashboard(self)

    @functools.cached_property
    def alerts(self) -> AlertTable:
        from mixstack.store.alerts import AlertTable

        return AlertTable(self, "?")

    @functools.cached_property
    def chain(self) -> SQLiteChain:
        from mixstack.store.sqlite.chain import SQLiteChain

        return SQLiteChain(self)

    # -- writes -------------------------------------------------------------------------

    def write(self, sql: str, params: Params = ()) -> Future[int]:
        """Queue one statement; the future resolves to `lastrowid` once it is committed."""
        future: Future[int] = Future()
        self._enqueue(_Write(sql, params, False, future))
        self._waited.set()
        return future

    def write_many(self, sql: str, rows: list[Params]) -> Future[int]:
        future: Future[int] = Future()
        self._enqueue(_Write(sql, rows, True, future))
        self._waited.set()
        return future

    def submit(self, sql: str, params: Params = ()) -> None:
        """Queue one statement without waiting for it (a failure is logged, not raised)."""
        self._enqueue(_Write(sql, params, False, None))

    def submit_journaled(self, sql: str, params: Sequence[Any]) -> None:
        """`submit`, durable through a crash of the process once this returns."""
        item = _Write(sql, params, False, None)
        with self._journal_lock:
            if self._closed:
                raise RuntimeError("the store is closed")
            if self._journal is None:
                self._journal = Journal(self.path)
            self._journal.append(sql, params)
            self._queue.put(item)

    def _committed(self) -> None:
        """After a commit: when nothing is queued, every journaled row is in the database."""
        if self._journal is not None and self._journal.pending:
            with self._journal_lock:
                if self._queue.empty():
                    self._journal.clear()

    def _enqueue(self, item: _Write) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        self._queue.put(item)

    def on_flush(self, hook: Callable[[], None]) -> None:
        """Call `hook` at each `flush()` and at `close()`, before waiting for the queue."""
        self._flush_hooks.append(hook)

    def on_close(self, hook: Callable[[], None]) -> None:
        self._close_hooks.append(hook)

    def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        if not self._closed:
            for hook in self._flush_hooks:
                hook()
            self.write("SELECT 1").result()

    def _write_loop(self) -> None:
        """Idle, the writer blocks on the queue; busy, it polls it once per group window.

        Group commit: rows nobody waits for share a transaction with those that follow
        within a few ms (a commit per request costs a busy gateway more than the row). And
        while rows keep coming the writer never blocks on the queue, so a producer's `put`
        never has to wake it (a system call and a GIL hand-off on the request path). A
        waited-on write (`write`, `flush`) ends the wait at once."""
        conn = _connect(self.path)
        try:
            busy = False
            while True:
                if busy:
                    self._waited.wait(_GROUP_S)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        busy = False
                        continue
                else:
                    item = self._queue.get()
                    if item is not None and item.future is None:
                        self._waited.wait(_GROUP_S)
                self._waited.clear()
                if item is None:
                    return
                batch = [item]
                while len(batch) < _BATCH:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self._commit(conn, batch)
                        self._committed()
                        return
                    batch.append(nxt)
                self._commit(conn, batch)
                self._committed()
                busy = any(w.future is None for w in batch)
        finally:
            conn.close()

    @classmethod
    def _commit(cls, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """Commit the batch; whatever goes wrong, the writer thread lives on."""
        try:
            cls._commit_batch(conn, batch)
        except Exception as exc:  # the disk, say: the batch is lost, and said so
            log.error("a batch of %d writes failed: %s", len(batch), exc)
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            for item in batch:
                if item.future is not None and not item.future.done():
                    item.future.set_exception(exc)

    @staticmethod
    def _commit_batch(conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """One transaction for the batch. A run of fire-and-forget rows with the same
        statement (a busy gateway's call log) goes in one statement: per-row statements
        would let the writer fall behind a saturated event loop, and the queue grow."""
        results: list[tuple[_Write, int | BaseException]] = []
        conn.execute("BEGIN IMMEDIATE")
        i = 0
        while i < len(batch):
            item = batch[i]
            j = i + 1
            if item.future is None and not item.many:
                while j < len(batch) and _same_run(item, batch[j]):
                    j += 1
            if j - i > 1 and _run_many(conn, batch[i:j]):
                i = j
                continue
            for one in batch[i:j]:  # alone, or a run with a bad row: each row on its own
                results.append((one, _run_one(conn, one)))
            i = j
        conn.execute("COMMIT")
        for item, outcome in results:
            if item.future is None:
                if isinstance(outcome, BaseException):
                    log.warning("a queued write failed: %s (%s)", outcome, item.sql[:80])
            elif isinstance(outcome, BaseException):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)

    # -- reads --------------------------------------------------------------------------

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with self._read_lock:
            return list(self._read.execute(sql, params).fetchall())

    def query_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        with self._read_lock:
            row: sqlite3.Row | None = self._read.execute(sql, params).fetchone()
            return row

    async def aquery(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """`query` in a worker thread: the event loop never waits on the disk."""
        return await asyncio.to_thread(self.query, sql, params)

    async def aquery_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return await asyncio.to_thread(self.query_one, sql, params)

    def close(self) -> None:
        if self._closed:
            return
        for hook in self._close_hooks:
            hook()
        self.flush()
        self._closed = True
        self._queue.put(None)
        self._waited.set()
        self._writer.join()
        if self._journal is not None:
            self._journal.close()  # everything in it is committed (flushed above)
        with self._read_lock:
            self._read.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _same_run(first: _Write, item: _Write) -> bool:
    return item.future is None and not item.many and item.sql == first.sql


#: `INSERT … VALUES (?, …, ?)`: a statement that can take many rows in one VALUES list
_INSERT_VALUES = re.compile(r"(?is)^\s*(INSERT\b.*\bVALUES\s*)(\([\s?,]*\))\s*;?\s*$")
#: SQLite binds at most 32766 parameters per statement (since 3.32)
_MAX_PARAMS = 32766
_ROWS_PER_INSERT = (64, 32, 16, 8, 4, 2, 1)


def _run_many(conn: sqlite3.Connection, run: list[_Write]) -> bool:
    """All rows of a run at once; False (and nothing written) if any of them fails.

    An INSERT becomes one statement with many VALUES rows: `executemany` steps once per
    row and gives up the GIL at each step, and while the event loop keeps the GIL busy the
    writer waits up to a switch interval (5 ms) for it each time."""
    rows = [cast(Sequence[Any], w.params) for w in run]
    insert = _INSERT_VALUES.match(run[0].sql)
    conn.execute("SAVEPOINT run")
    try:
        if insert is None or not isinstance(rows[0], Sequence) or not rows[0]:
            conn.executemany(run[0].sql, rows)
        else:
            head, one = insert.group(1), insert.group(2)
            per = max(1, _MAX_PARAMS // len(rows[0]))
            start = 0
            # statements of 64, 32, …, 1 rows only: each distinct statement stays prepared
            # in the connection's cache, and one per batch size made it grow by megabytes
            for most in _ROWS_PER_INSERT:
                size = min(most, per)
                while len(rows) - start >= size:
                    chunk = rows[start : start + size]
                    flat = [value for row in chunk for value in row]
                    conn.execute(head + ",".join([one] * size), flat)
                    start += size
    except Exception:  # a constraint, or a value SQLite cannot take: row by row then
        conn.execute("ROLLBACK TO run")
        conn.execute("RELEASE run")
        return False
    conn.execute("RELEASE run")
    return True


def _run_one(conn: sqlite3.Connection, item: _Write) -> int | BaseException:
    conn.execute("SAVEPOINT one")
    try:
        try:
            cur = _execute(conn, item.sql, item.params, item.many)
        except UnicodeEncodeError:
            # text that is not valid Unicode (a lone surrogate a caller sent): stored with
            # the offending code points escaped rather than lost
            cur = _execute(conn, item.sql, _escaped(item.params), item.many)
    except Exception as exc:
        conn.execute("ROLLBACK TO one")
        conn.execute("RELEASE one")
        return exc
    conn.execute("RELEASE one")
    # an INSERT … SELECT … WHERE that inserted nothing leaves `lastrowid` at an older row
    return (cur.lastrowid or 0) if cur.rowcount != 0 else 0


def _execute(
    conn: sqlite3.Connection, sql: str, params: Params | list[Params], many: bool
) -> sqlite3.Cursor:
    if many:
        return conn.executemany(sql, cast(list[Params], params))
    return conn.execute(sql, cast(Params, params))


def _escaped(params: Any) -> Any:
    """`params` with every string's unencodable code points backslash-escaped."""
    if isinstance(params, str):
        return params.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(params, dict):
        return {k: _escaped(v) for k, v in params.items()}
    if isinstance(params, list | tuple):
        return type(params)(_escaped(v) for v in params)
    return params


def sqlite_of(store: object, what: str = "this view") -> SQLiteStore:
    """The SQLite store behind `store`, or a clear error naming what needs it."""
    if isinstance(store, SQLiteStore):
        return store
    url = getattr(store, "url", type(store).__name__)
    raise StoreFeatureError(
        f"{what} is kept only by the SQLite store; the store at {url} does not offer it "
        "yet. Use the SQLite store (the default) for it."
    )
