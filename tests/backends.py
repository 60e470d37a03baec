"""A store backend under test (SQLite file or PostgreSQL database) with raw access for the
tests that tamper with rows behind the store's back."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from mixstack.store import Store, open_store
from mixstack.store.base import sqlite_path

__all__ = ["Backend"]


@dataclass(frozen=True)
class Backend:
    name: str  # sqlite | postgresql
    url: str

    def open(self) -> Store:
        """A new store object on this database (another process, as far as it knows)."""
        return open_store(self.url)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run `sql` (`?` placeholders) directly on the database, committed; its rows."""
        if self.name == "sqlite":
            conn = sqlite3.connect(sqlite_path(self.url), isolation_level=None)
            try:
                return list(conn.execute(sql, params).fetchall())
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            cur = pg.execute(sql.replace("?", "%s").encode(), params)
            return list(cur.fetchall()) if cur.description else []
