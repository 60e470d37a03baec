"""Progress of long commands (eval, sweep, audit with a judge), always on stderr.

On a terminal: a live bar per model with done/total counts, elapsed time and ETA. Piped or
redirected: one plain line per model every `interval` seconds and a last line when done, so
a CI log shows the run is alive (`MIXSTACK_PROGRESS_SECONDS` sets the interval, default 10).
stdout is never touched, so `--json` output stays clean.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

__all__ = ["PROGRESS_ENV", "CountProgress", "format_eta"]

PROGRESS_ENV = "MIXSTACK_PROGRESS_SECONDS"


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get(PROGRESS_ENV, "10")))
    except ValueError:
        return 10.0


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(slots=True)
class _Count:
    total: int
    done: int
    started_done: int
    started_at: float = field(default_factory=time.monotonic)

    def eta(self, now: float) -> float | None:
        """Remaining seconds at the rate of this run (resumed results do not count)."""
        made = self.done - self.started_done
        if made <= 0:
            return None
        rate = made / max(now - self.started_at, 1e-9)
        return (self.total - self.done) / rate


class CountProgress:
    """Counts per key (a model, usually); the eval runner's and the sweep's progress sink."""

    def __init__(
        self,
        console: Console,
        *,
        label: str = "",
        interval: float | None = None,
        live: bool | None = None,
    ) -> None:
        self._console = console
        self._label = label
        self._interval = _interval() if interval is None else interval
        self._live = console.is_terminal if live is None else live
        self._counts: dict[str, _Count] = {}
        self._tasks: dict[str, TaskID] = {}
        self._last_line = time.monotonic()
        self._bars: RichProgress | None = None
        if self._live:
            self._bars = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )

    def start(self, model: str, total: int, done: int) -> None:
        """A key with `total` units, `done` of them already finished (a resumed run)."""
        self._counts[model] = _Count(total, done, done)
        if self._bars is not None:
            if not self._tasks:
                self._bars.start()
            self._tasks[model] = self._bars.add_task(
                self._describe(model), total=total, completed=done
            )

    def add_total(self, model: str, more: int) -> None:
        """More units planned for a key (the sweep plans one length at a time)."""
        count = self._counts.get(model)
        if count is None:
            self.start(model, more, 0)
            return
        count.total += more
        if self._bars is not None:
            self._bars.update(self._tasks[model], total=count.total)

    def advance(self, model: str) -> None:
        count = self._counts[model]
        count.done += 1
        if self._bars is not None:
            self._bars.advance(self._tasks[model])
            return
        now = time.monotonic()
        if now - self._last_line >= self._interval:
            self._last_line = now
            for key in self._counts:
                self._line(key, now)

    def stop(self) -> None:
        if self._bars is not None:
            if self._tasks:
                self._bars.stop()
            return
        now = time.monotonic()
        for key in self._counts:
            self._line(key, now)

    def _describe(self, model: str) -> str:
        return f"{self._label} {model}".strip()

    def _line(self, model: str, now: float) -> None:
        count = self._counts[model]
        share = f" ({100 * count.done / count.total:.0f}%)" if count.total else ""
        remaining = count.total - count.done
        eta = f", eta {format_eta(count.eta(now))}" if remaining else ", done"
        self._console.print(
            f"{self._describe(model)}: {count.done}/{count.total}{share}, "
            f"elapsed {format_eta(now - count.started_at)}{eta}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
