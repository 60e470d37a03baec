#!/usr/bin/env bash
# Two mixstack gateway replicas behind HAProxy, sharing one PostgreSQL and one Redis, all on
# 127.0.0.1 and all started here (from the Debian packages postgresql, redis-server and
# haproxy): a short load through the load balancer, then what each replica served and
# whether the key's budget held. Everything started is stopped on exit.
#
#   scripts/cluster-demo.sh            (PYTHON=/path/to/python to pick the interpreter)
set -euo pipefail

PYTHON=${PYTHON:-python3}
REQUESTS=${REQUESTS:-200}
BUDGET=${BUDGET:-0.5}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
for need in "$PG_BIN/initdb" redis-server haproxy; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "cluster-demo: $need is missing; install the Debian packages postgresql," \
             "redis-server and haproxy (system-packages.txt)." >&2
        exit 2
    fi
done

WORK=$(mktemp -d /tmp/mixstack-cluster-XXXXXX)
PIDS=()
free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] && chown postgres "$WORK"

echo "== PostgreSQL, Redis"
PG_PORT=$(free_port)
as_pg "$PG_BIN/initdb" -D "$WORK/pg" -U mixstack --auth=trust -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
    -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U mixstack mixstack
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)

export MIXSTACK_STORE="postgresql://mixstack@127.0.0.1:$PG_PORT/mixstack"
export MIXSTACK_REDIS="redis://127.0.0.1:$REDIS_PORT/0"
export MIXSTACK_HOME="$WORK/home"
unset MIXSTACK_CONFIG
cat >"$WORK/mixstack.yaml" <<YAML
default_model: fake/echo
models:
  - name: fake/echo
    provider: fake
    latency_ms: 20
    price: {input_per_1m: 1000, output_per_1m: 1000}
gateway: {key_cache_s: 1}
YAML

echo "== a key with a \$$BUDGET budget"
SECRET=$("$PYTHON" -m mixstack keys create --config "$WORK/mixstack.yaml" --name demo \
    --budget "$BUDGET" --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["key"])')

echo "== 2 replicas of mixstack serve behind HAProxy"
BACKENDS=""
for i in 1 2; do
    port=$(free_port)
    "$PYTHON" -m mixstack serve --config "$WORK/mixstack.yaml" --port "$port" \
        >"$WORK/replica$i.log" 2>&1 &
    PIDS+=($!)
    BACKENDS+="    server replica$i 127.0.0.1:$port check"$'\n'
done
LB_PORT=$(free_port)
cat >"$WORK/haproxy.cfg" <<CFG
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend gateway
    bind 127.0.0.1:$LB_PORT
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /health
    http-response set-header x-served-by %s
$BACKENDS
CFG
haproxy -f "$WORK/haproxy.cfg" -db >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)

echo "== $REQUESTS requests through http://127.0.0.1:$LB_PORT"
"$PYTHON" - "$LB_PORT" "$SECRET" "$REQUESTS" "$BUDGET" <<'PY'
import asyncio, collections, sys, time
import httpx
from mixstack.guard._keys import KeyStore
from mixstack.store import open_store

port, secret, total, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
url = f"http://127.0.0.1:{port}"
deadline = time.monotonic() + 120
while True:  # both replicas up behind the balancer
    try:
        seen = {httpx.get(f"{url}/health", timeout=2).headers.get("x-served-by") for _ in range(4)}
        if len(seen) == 2:
            break
    except httpx.HTTPError:
        pass
    if time.monotonic() > deadline:
        sys.exit("the replicas did not come up; see their logs")
    time.sleep(0.5)

async def main() -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        async def one(i: int) -> httpx.Response:
            return await client.post(f"{url}/v1/chat/completions",
                headers={"authorization": f"Bearer {secret}"},
                json={"model": "fake/echo", "max_tokens": 20,
                      "messages": [{"role": "user", "content": f"question {i}"}]})
        return await asyncio.gather(*(one(i) for i in range(total)))

answers = asyncio.run(main())
served = collections.Counter((a.headers.get("x-served-by"), a.status_code) for a in answers)
for (replica, status), n in sorted(served.items()):
    print(f"  {replica}: {n} answered HTTP {status}")
with open_store() as store:
    key = next(k for k in KeyStore(store).list() if k.name == "demo")
ok = sum(1 for a in answers if a.status_code == 200)
print(f"  budget ${budget:.2f}: spent ${key.spent_usd:.4f} over {key.requests} calls "
      f"({ok} answered, {total - ok} refused), held now ${key.reserved_usd:.4f}")
held = key.spent_usd <= budget + 0.05
print("  the budget held across both replicas" if held else "  THE BUDGET WAS EXCEEDED")
sys.exit(0 if held else 1)
PY
echo "== stopping everything this started"
