"""The PostgreSQL backend (`store: postgresql://…`): one module per repository over a
psycopg 3 connection pool; several gateway replicas share it. Needs `mixstack[postgres]`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from mixstack.errors import ConfigError

if TYPE_CHECKING:
    from mixstack.store.alerts import AlertTable
    from mixstack.store.postgres.budgets import PgBudgets
    from mixstack.store.postgres.calls import PgCalls
    from mixstack.store.postgres.chain import PgChain
    from mixstack.store.postgres.dashboard import PgDashboard
    from mixstack.store.postgres.engine import PgEngine
    from mixstack.store.postgres.fold import CallFold
    from mixstack.store.postgres.keys import PgKeys
    from mixstack.store.postgres.rates import PgRates
    from mixstack.store.postgres.responses import PgResponses
    from mixstack.store.postgres.runs import PgRuns
    from mixstack.store.postgres.traces import PgTraces

__all__ = ["PostgresStore", "open_postgres"]


class PostgresStore:
    def __init__(self, url: str, *, home: Path, pool_size: int = 8):
        from mixstack.store.postgres.engine import PgEngine

        self.engine: PgEngine = PgEngine(url, pool_size=pool_size, journal_home=home)

    @property
    def url(self) -> str:
        return self.engine.url

    @property
    def version(self) -> int:
        return self.engine.version

    @functools.cached_property
    def keys(self) -> PgKeys:
        from mixstack.store.postgres.keys import PgKeys

        return PgKeys(self.engine)

    @functools.cached_property
    def budgets(self) -> PgBudgets:
        from mixstack.store.postgres.budgets import PgBudgets

        return PgBudgets(self.engine)

    @functools.cached_property
    def calls(self) -> PgCalls:
        from mixstack.store.postgres.calls import PgCalls

        return PgCalls(self.engine)

    @functools.cached_property
    def traces(self) -> PgTraces:
        from mixstack.store.postgres.traces import PgTraces

        return PgTraces(self.engine)

    @functools.cached_property
    def responses(self) -> PgResponses:
        from mixstack.store.postgres.responses import PgResponses

        return PgResponses(self.engine)

    @functools.cached_property
    def rates(self) -> PgRates:
        from mixstack.store.postgres.rates import PgRates

        return PgRates(self.engine)

    @functools.cached_property
    def runs(self) -> PgRuns:
        from mixstack.store.postgres.runs import PgRuns

        return PgRuns(self.engine)

    @functools.cached_property
    def fold(self) -> CallFold:
        """Folds committed calls into the dashboard's aggregates and the privacy chain."""
        from mixstack.store.postgres.fold import CallFold

        return CallFold(self.engine)

    @functools.cached_property
    def dashboard(self) -> PgDashboard:
        from mixstack.store.postgres.dashboard import PgDashboard

        return PgDashboard(self.engine, self.fold)

    @functools.cached_property
    def alerts(self) -> AlertTable:
        from mixstack.store.alerts import AlertTable

        return AlertTable(self.engine, "%s")

    @functools.cached_property
    def chain(self) -> PgChain:
        from mixstack.store.postgres.chain import PgChain

        return PgChain(self.engine, self.fold)

    def on_flush(self, hook: Callable[[], None]) -> None:
        self.engine.on_flush(hook)

    def flush(self) -> None:
        self.engine.flush()

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_postgres(url: str, home: Path) -> PostgresStore:
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"store URL {url.rsplit('@', maxsplit=1)[-1]!r} needs the PostgreSQL driver; install "
            "`mixstack[postgres]` (psycopg and psycopg-pool)."
        ) from None
    return PostgresStore(url, home=home)
