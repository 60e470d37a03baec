"""Entry points, read once per process: the installed plugins do not change while it runs,
and each scan walks every installed distribution's metadata (milliseconds each)."""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

__all__ = ["plugins"]


@functools.cache
def _installed() -> Any:
    """Every entry point of every distribution (one scan; `select` filters it in memory)."""
    return entry_points()


@functools.cache
def plugins(group: str) -> tuple[EntryPoint, ...]:
    """The entry points of `group` (e.g. `mixstack.providers`), in installation order."""
    return tuple(_installed().select(group=group))
