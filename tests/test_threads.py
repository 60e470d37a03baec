"""The engines' default thread count: the CPUs other work leaves idle, at least one."""

from __future__ import annotations

import os

import pytest

from mixstack._cpu import default_threads


@pytest.mark.parametrize(
    ("cpus", "load", "expected"),
    [(2, 0.1, 2), (2, 0.6, 1), (2, 1.4, 1), (2, 6.9, 1), (8, 2.6, 5), (8, 0.0, 8), (1, 0.0, 1)],
)
def test_busy_cpus_are_left_to_the_work_that_keeps_them_busy(
    monkeypatch: pytest.MonkeyPatch, cpus: int, load: float, expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cpus)))
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert default_threads() == expected


def test_without_a_load_average_every_allowed_cpu_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average here")

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert default_threads() == 3
