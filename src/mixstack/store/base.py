"""The store every front door shares, as repositories, and the backend chosen by URL.

    sqlite:///path/to/mixstack.db   (default: mixstack.db in the mixstack home)
    postgresql://user@host/db       (several gateway replicas; `mixstack[postgres]`)

A backend is one module per repository (`store/sqlite/…`, `store/postgres/…`); nothing
outside `store/` writes SQL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Protocol

from mixstack._home import HOME_ENV, default_home
from mixstack.errors import ConfigError
from mixstack.store.alerts import AlertRepository
from mixstack.store.budgets import BudgetRepository
from mixstack.store.calls import CallRepository
from mixstack.store.chain import PrivacyChainRepository
from mixstack.store.dashboard import DashboardRepository
from mixstack.store.keys import KeyRepository
from mixstack.store.rates import RateRepository
from mixstack.store.responses import ResponseCacheRepository
from mixstack.store.runs import EvalRunRepository
from mixstack.store.traces import TraceRepository

if TYPE_CHECKING:
    from mixstack.store.redis.circuits import RedisCircuits

__all__ = [
    "HOME_ENV",
    "REDIS_ENV",
    "STORE_ENV",
    "Store",
    "default_home",
    "open_store",
    "shared_budgets",
    "shared_circuits",
    "shared_rates",
    "sqlite_path",
]

#: a store URL that overrides the config's `store:` (several processes, one store)
STORE_ENV = "MIXSTACK_STORE"
#: a Redis URL that overrides the config's `redis:`
REDIS_ENV = "MIXSTACK_REDIS"


class Store(Protocol):
    """What every backend offers: one repository per concern, plus flush and close."""

    @property
    def url(self) -> str: ...

    @property
    def version(self) -> int:
        """The schema version (the number of the last migration applied)."""

    @property
    def keys(self) -> KeyRepository: ...

    @property
    def budgets(self) -> BudgetRepository: ...

    @property
    def calls(self) -> CallRepository: ...

    @property
    def traces(self) -> TraceRepository: ...

    @property
    def responses(self) -> ResponseCacheRepository: ...

    @property
    def runs(self) -> EvalRunRepository: ...

    @property
    def rates(self) -> RateRepository:
        """Rate-limit windows shared by every process on this store."""

    @property
    def dashboard(self) -> DashboardRepository:
        """The `/ui` dashboard's aggregates and pages, over every process's calls."""

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def chain(self) -> PrivacyChainRepository:
        """The privacy hash chain over the call log."""

    def on_flush(self, hook: Callable[[], None]) -> None:
        """Call `hook` at each `flush()` and at `close()`, before the queue is drained."""

    def flush(self) -> None:
        """Wait until every write queued so far is committed."""

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def sqlite_path(url: str) -> Path:
    """The file of a `sqlite:///…` URL (three slashes, then the path)."""
    rest = url.removeprefix("sqlite://")
    if not rest.startswith("/") or rest == "/":
        raise ConfigError(
            f"store URL {url!r} has no file path; write sqlite:///absolute/path/mixstack.db."
        )
    # sqlite:////abs/path and sqlite:///abs/path both name /abs/path
    return Path("/" + rest.lstrip("/"))


def open_store(url: str | None = None, *, home: Path | None = None) -> Store:
    """The store at `url` (else `$MIXSTACK_STORE`, else SQLite in the mixstack home)."""
    url = url or os.environ.get(STORE_ENV) or None
    if url is None:
        from mixstack.store.db import SQLiteStore

        return SQLiteStore(default_home(home) / "mixstack.db")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from mixstack.store.db import SQLiteStore

        return SQLiteStore(sqlite_path(url))
    if scheme in ("postgresql", "postgres"):
        from mixstack.store.postgres import open_postgres

        return open_postgres(url, default_home(home))
    raise ConfigError(
        f"store URL {url!r} names no backend mixstack has; use sqlite:///path/mixstack.db "
        "or postgresql://user@host/db."
    )


def shared_rates(
    store: Store, redis: str | None = None, redis_down: Literal["store", "closed"] = "store"
) -> RateRepository:
    """The rate-limit windows every process shares: Redis's (over the store's when Redis
    is down), else the store's."""
    redis = redis or os.environ.get(REDIS_ENV) or None
    if redis is None:
        return store.rates
    from mixstack.store.redis import RedisRates

    return RedisRates(redis, store.rates, redis_down)


def shared_budgets(
    store: Store,
    redis: str | None = None,
    redis_down: Literal["store", "closed"] = "store",
    *,
    rates: RateRepository | None = None,
) -> BudgetRepository:
    """The budget holds every process shares: Redis's (the store's while Redis is down),
    else the store's. Given the rate windows in the same Redis (`shared_rates`), a keyed
    request is admitted and held in one script, and both send their calls together."""
    redis = redis or os.environ.get(REDIS_ENV) or None
    if redis is None:
        return store.budgets
    from mixstack.store.redis import RedisRates
    from mixstack.store.redis.budgets import RedisBudgets

    same = rates if isinstance(rates, RedisRates) and rates.url == redis else None
    return RedisBudgets(redis, store, redis_down, rates=same)


def shared_circuits(redis: str | None = None) -> RedisCircuits | None:
    """Circuit-breaker state every process shares (Redis's), or None: per process."""
    redis = redis or os.environ.get(REDIS_ENV) or None
    if redis is None:
        return None
    from mixstack.store.redis.circuits import RedisCircuits

    return RedisCircuits(redis)
