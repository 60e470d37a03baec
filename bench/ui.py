"""Dashboard page times on a call log of a million rows.

Records `--rows` calls spread over 7 days (8 models, 50 keys, 6 workloads, 1% errors, 0.5%
flagged, PII on 10%) through `record_call` (which keeps the per-minute/hour aggregates),
seals the privacy hash chain over all of them (on PostgreSQL this also folds them into
the aggregates), then serves the gateway with uvicorn on 127.0.0.1 and times each `/ui` page
with an admin key over HTTP (`--repeat` loads each; a deep page is reached by keyset
paging). Target: every page < 200 ms. `--store postgresql://…` runs it on an empty
PostgreSQL database instead of a fresh SQLite file.

    python bench/ui.py [--rows 1000000] [--repeat 15] [--store URL]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from mixstack.config import parse_config
from mixstack.gateway import Gateway
from mixstack.store import CallRecord, Store, open_store, record_call

MODELS = ["local/a", "local/b", "onprem/c", "openai/d", "openai/e", "anthropic/f", "g/h", "i/j"]
WORKLOADS = ["default", "support", "private", "code", "batch", "agents"]


def fill(store: Store, rows: int) -> float:
    """Record `rows` calls the way every front door does (`record_call`: the row, queued for
    the writer thread, and its share of the aggregates)."""
    rng = random.Random(7)
    now = time.time()
    keys = [f"key_{i:012x}" for i in range(50)]
    start = time.perf_counter()
    for i in range(rows):
        model = rng.choice(MODELS)
        failed = rng.random() < 0.01
        flagged = rng.random() < 0.005
        route = {
            "model": model,
            "workload": "support",
            "reason": "ranked first",
            "candidates": MODELS[:4],
            "excluded": [{"model": "i/j", "reason": "too slow"}],
        }
        record_call(
            store,
            CallRecord(
                request_id=f"req_{i:024x}",
                created_at=now - 7 * 86400 * (1 - i / rows),
                model=model,
                provider=model.split("/")[0],
                locality="local" if model.startswith("local") else "remote",
                endpoint="in-process",
                workload=rng.choice(WORKLOADS),
                caller=rng.choice(keys),
                front_door="gateway",
                prompt_tokens=rng.randint(10, 2000),
                completion_tokens=rng.randint(1, 800),
                cost_usd=rng.random() / 100,
                latency_ms=rng.lognormvariate(5, 1),
                finish_reason="stop",
                error="upstream failed" if failed else None,
                error_type="upstream_error" if failed else None,
                route=json.dumps(route),
                policy="auto: no PII found",
                pii='[{"type": "EMAIL_ADDRESS", "count": 1}]' if rng.random() < 0.1 else "[]",
                abuse='{"label": "injection", "score": 0.9}' if flagged else None,
            ),
        )
    store.flush()
    return time.perf_counter() - start


class Server:
    def __init__(self, app: object, port: int = 0):
        self.config = uvicorn.Config(app, host="127.0.0.1", port=port or _free_port(),
                                     log_level="warning", lifespan="on")  # fmt: skip
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.config.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--store", default=None, help="a store URL (default: a fresh SQLite)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mixstack-ui-bench-"))
    os.environ["MIXSTACK_HOME"] = str(home)
    store = open_store(args.store, home=home)
    fill_s = fill(store, args.rows)
    store.flush()
    start = time.perf_counter()
    while store.chain.seal(20_000):
        pass
    seal_s = time.perf_counter() - start
    print(f"recorded {args.rows} calls in {fill_s:.1f} s ({args.rows / fill_s:.0f}/s, with "
          "aggregates); "
          f"sealed the chain in {seal_s:.1f} s")  # fmt: skip
    store.close()
    gateway = Gateway(parse_config({"store": args.store, "gateway": {"key_cache_s": 5}}))
    secret, _ = gateway.keys.create(name="admin", admin=True)
    gateway.keys.create(name="team", budget_usd=1.0)
    pages = [
        "/ui", "/ui?window=7d&by=model", "/ui?window=7d&by=caller", "/ui?window=1h&by=workload",
        "/ui/routes", "/ui/routes?key=key_00000000002a", "/ui/routes?only=flagged",
        "/ui/routes?workload=private&model=openai/d", "/ui/privacy", "/ui/alerts", "/ui/keys",
        "/ui/evals", "/ui/traces",
    ]  # fmt: skip
    results: dict[str, list[float]] = {}
    with (
        Server(gateway.app()) as url,
        httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {secret}"}, timeout=60
        ) as client,
    ):
        deep = "/ui/routes"
        for _ in range(200):  # 200 pages down (10,000 rows): keyset paging stays flat
            page = client.get(deep).text
            marker = page.find('id="next-page" href="?')
            if marker < 0:
                break
            deep = "/ui/routes?" + page[marker + 23 : page.find('"', marker + 23)].replace(
                "&amp;", "&"
            )
        pages.append(deep)
        for path in pages:
            client.get(path).raise_for_status()  # warm
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                client.get(path).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            results[path if path != deep else "/ui/routes (page 201)"] = times
    print(f"\n{'page':<48}{'p50 ms':>10}{'max ms':>10}")
    for path, times in results.items():
        print(f"{path[:47]:<48}{statistics.median(times):>10.1f}{max(times):>10.1f}")
    worst = max(statistics.median(t) for t in results.values())
    worst_max = max(max(t) for t in results.values())
    print(
        f"ui ({store.url.split(':', 1)[0]}): {args.rows} calls, {len(results)} pages, "
        f"worst page p50 {worst:.0f} ms, worst "
        f"single load {worst_max:.0f} ms, target < 200 ms {'met' if worst < 200 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
