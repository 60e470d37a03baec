"""Budget holds belong to the process that took them: a gateway starting frees only the holds
of processes that are gone, never those of another live gateway sharing the store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mixstack.errors import BudgetExceeded
from mixstack.guard._budget import Budget
from mixstack.guard._keys import KeyStore
from mixstack.store import SQLiteStore

# a second gateway process: takes a hold, says so, and keeps it until its stdin closes
_HOLDER = """
import asyncio, sys
from mixstack.store import SQLiteStore
store = SQLiteStore(sys.argv[1])
hold = asyncio.run(store.budgets.reserve(sys.argv[2], 0.3, 100))
store.flush()
print(hold.id, store.budgets.owner, flush=True)
sys.stdin.read()
store.close()
"""
# what `mixstack serve` does at start
_STARTER = """
import sys
from mixstack.guard._budget import Budget
from mixstack.store import SQLiteStore
with SQLiteStore(sys.argv[1]) as store:
    print(Budget.reclaim_holds(store), flush=True)
"""


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _reserved(db: Path, key_id: str) -> float:
    with SQLiteStore(db) as store:
        key = store.keys.get(key_id)
    assert key is not None
    return key.reserved_usd


def test_a_starting_gateway_keeps_live_holds_and_frees_dead_ones(tmp_path: Path) -> None:
    db = tmp_path / "mixstack.db"
    with SQLiteStore(db) as store:
        _, key = KeyStore(store).create(name="shared", budget_usd=1.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(db), key.id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        hold_id, owner = holder.stdout.readline().split()
        assert _reserved(db, key.id) == pytest.approx(0.3)
        # another gateway starts: the live process's hold stays, and still counts
        assert _run(_STARTER, str(db)) == "0"
        assert _reserved(db, key.id) == pytest.approx(0.3)
        with SQLiteStore(db) as store:
            assert [h.id for h in store.budgets.held_by(owner)] == [int(hold_id)]
            fresh = store.keys.get(key.id)
            assert fresh is not None
            with pytest.raises(BudgetExceeded, match="held by requests in flight"):
                asyncio.run(Budget(store).reserve(fresh, 0.8, 10))
        # the holder dies without settling: the next start frees its hold
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        assert _run(_STARTER, str(db)) == "1"
        assert _reserved(db, key.id) == pytest.approx(0.0)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


def test_a_lapsed_lease_on_another_host_is_freed_and_settling_still_counts(
    tmp_path: Path,
) -> None:
    db = tmp_path / "mixstack.db"
    with SQLiteStore(db) as store:
        _, key = KeyStore(store).create(name="k", budget_usd=1.0, max_tokens=1000)
        budget = Budget(store)
        hold = asyncio.run(budget.reserve(key, 0.25, 50))
        store.flush()
        # a process on another machine whose lease lapsed a minute ago, holding 0.5
        store.write(
            "INSERT INTO store_leases (owner, host, pid, started_at, expires_at) "
            "VALUES ('elsewhere:1:x', 'elsewhere', 1, ?, ?)",
            (time.time() - 120, time.time() - 60),
        ).result()
        store.write(
            "INSERT INTO budget_holds (key_id, owner, cost_usd, tokens, created_at) "
            "VALUES (?, 'elsewhere:1:x', 0.5, 10, ?)",
            (key.id, time.time()),
        ).result()
        assert store.keys.get(key.id).reserved_usd == pytest.approx(0.75)  # type: ignore[union-attr]
        assert store.budgets.reclaim() == 1
        usage = asyncio.run(store.budgets.usage(key.id))
        assert usage is not None
        assert (usage.reserved_usd, usage.tokens_reserved) == (pytest.approx(0.25), 50)
        # settled with the real cost: the hold is freed and the spend added, in one statement
        budget.settle(hold, 0.1, 40)
        store.flush()
        done = store.keys.get(key.id)
        assert done is not None
        assert (done.reserved_usd, done.spent_usd, done.tokens_used, done.requests) == (
            pytest.approx(0.0),
            pytest.approx(0.1),
            40,
            1,
        )
        assert store.budgets.held_by(store.budgets.owner) == []
