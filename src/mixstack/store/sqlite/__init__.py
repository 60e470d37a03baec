"""The SQLite backend: one module per repository over `SQLiteStore`'s writer thread."""

__all__: list[str] = []
