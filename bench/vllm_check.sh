#!/usr/bin/env bash
# Check mixstack against a real vLLM server (run on a machine with a GPU and vLLM running):
# routing to it as an on-prem model, streaming, and usage, through `mixstack serve`.
#
#   VLLM_URL=http://127.0.0.1:8000/v1 VLLM_MODEL=meta-llama/Llama-3.1-8B-Instruct \
#       bench/vllm_check.sh
#
# Starts only `mixstack serve` (on a free port, in a temp home) and stops it at the end.
# Prints one line per check and ends with a summary line; exits 1 if a check failed.
set -euo pipefail

: "${VLLM_URL:?set VLLM_URL to the vLLM server, e.g. http://127.0.0.1:8000/v1}"
: "${VLLM_MODEL:?set VLLM_MODEL to the model vLLM serves (GET \$VLLM_URL/models)}"
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/mixstack-vllm-XXXXXX)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

cat >"$WORK/mixstack.yaml" <<YAML
default_model: vllm/check
models:
  - {name: vllm/check, provider: openai, base_url: "$VLLM_URL", upstream_model: "$VLLM_MODEL",
     locality: on-prem, capabilities: [chat, json], timeouts: {first_token: 120}}
workloads:
  private: {privacy: local-only, prefer: [vllm/check]}
YAML
PORT=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MIXSTACK_HOME="$WORK/home" "$PYTHON" -m mixstack serve --config "$WORK/mixstack.yaml" \
    --port "$PORT" >"$WORK/serve.log" 2>&1 &
SERVER=$!

"$PYTHON" - "http://127.0.0.1:$PORT" <<'PY'
import json, sys, time
import httpx

base = sys.argv[1]
for _ in range(600):
    try:
        if httpx.get(f"{base}/health", timeout=1).status_code == 200:
            break
    except httpx.HTTPError:
        time.sleep(0.5)
else:
    sys.exit("mixstack serve did not come up; see serve.log")

results: dict[str, bool] = {}
ask = {"messages": [{"role": "user", "content": "Name three primes."}], "max_tokens": 32}

r = httpx.post(f"{base}/v1/chat/completions", json={"model": "vllm/check", **ask}, timeout=300)
body = r.json()
usage = body.get("usage", {})
results["chat answers"] = r.status_code == 200 and bool(body["choices"][0]["message"]["content"])
results["usage from vLLM"] = usage.get("prompt_tokens", 0) > 0 and usage.get("completion_tokens", 0) > 0
results["answered by vllm/check"] = r.headers.get("x-mixstack-model") == "vllm/check"

r = httpx.post(f"{base}/v1/chat/completions", timeout=300,
               json={"model": "workload/private", **ask})
results["private workload routes to the on-prem vLLM"] = (
    r.status_code == 200 and r.headers.get("x-mixstack-model") == "vllm/check")

chunks, streamed_usage, done = 0, None, False
with httpx.stream("POST", f"{base}/v1/chat/completions", timeout=300,
                  json={"model": "vllm/check", "stream": True,
                        "stream_options": {"include_usage": True}, **ask}) as s:
    for line in s.iter_lines():
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            done = True
            break
        event = json.loads(line[6:])
        chunks += bool(event.get("choices"))
        streamed_usage = event.get("usage") or streamed_usage
results["streaming ends with [DONE]"] = done and chunks > 0
results["streamed usage"] = bool(streamed_usage and streamed_usage.get("completion_tokens"))

r = httpx.post(f"{base}/v1/chat/completions", timeout=300, json={
    "model": "vllm/check", **ask, "guided_choice": ["yes", "no"],
    "messages": [{"role": "user", "content": "Is 7 prime? Answer yes or no."}]})
results["guided decoding passes through"] = (
    r.status_code == 200 and r.json()["choices"][0]["message"]["content"].strip() in ("yes", "no"))

for name, ok in results.items():
    print(f"{'ok  ' if ok else 'FAIL'} {name}")
passed = sum(results.values())
print(f"vllm_checks_passed={passed} vllm_checks_total={len(results)}")
sys.exit(0 if passed == len(results) else 1)
PY
