"""Circuit-breaker state every replica shares in Redis (`redis: redis://…`): failures in a
row, when a circuit opened, and who runs its half-open trial, in one hash updated by Lua
scripts on Redis's clock. The policy (thresholds, what counts as a failure) stays in
`mixstack._resilience`; this module only keeps the numbers.

Each circuit is a field of `mixstack:cb`: "failures opened_at trial_until holder" (opened_at
0: closed; holder: who claimed the trial, so a claim retried after its reply was lost is
granted to the same caller again, never to a second one). A command that fails on a
connection is tried once more on a fresh one (a connection the server dropped is not Redis
being down); when Redis still cannot be reached every method answers None and the caller
keeps its own per-process state (`mixstack._resilience` says so in the log).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from mixstack.store.redis.connection import LoopClients, is_down, require_client, run_script

__all__ = ["CircuitState", "RedisCircuits"]

log = logging.getLogger("mixstack.store")

_HASH = "mixstack:cb"
_PARSE = """
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function read(circuit)
  local v = redis.call('HGET', KEYS[1], circuit)
  if not v then return 0, 0, 0, '-' end
  local f, o, t, h = string.match(v, '(%S+) (%S+) (%S+) ?(%S*)')
  if h == '' then h = '-' end
  return tonumber(f), tonumber(o), tonumber(t), h
end
local function write(circuit, f, o, t, h)
  redis.call('HSET', KEYS[1], circuit, string.format('%d %.6f %.6f %s', f, o, t, h))
end
"""
# ARGV: circuit, threshold → {failures, seconds since it opened (-1: closed)}
_FAILED = (
    _PARSE
    + """
local now = clock()
local f, o, t, h = read(ARGV[1])
f = f + 1
if o > 0 or f >= tonumber(ARGV[2]) then o, t, h = now, 0, '-' end
write(ARGV[1], f, o, t, h)
if o > 0 then return {f, tostring(now - o)} end
return {f, '-1'}
"""
)
_SUCCEEDED = "redis.call('HDEL', KEYS[1], ARGV[1]) return 1"
# ARGV: circuit, cooldown s, trial lease s, claimant → 1: this claimant runs the trial (or
# the circuit is closed)
_TRIAL = (
    _PARSE
    + """
local now = clock()
local f, o, t, h = read(ARGV[1])
if o == 0 then return 1 end
if t > now and h == ARGV[4] then return 1 end
if now - o < tonumber(ARGV[2]) or t > now then return 0 end
write(ARGV[1], f, o, now + tonumber(ARGV[3]), ARGV[4])
return 1
"""
)
_STATES = """
local t = redis.call('TIME')
local out = {tostring(tonumber(t[1]) + tonumber(t[2]) / 1000000)}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do out[#out + 1] = all[i] end
return out
"""


@dataclass(frozen=True, slots=True)
class CircuitState:
    failures: int
    #: seconds since the circuit opened; None while it is closed
    open_for_s: float | None
    #: a half-open trial is under way somewhere
    trial: bool = False


class RedisCircuits:
    def __init__(self, url: str):
        require_client()
        self.url = url
        self._clients = LoopClients(url, connections=8, timeout_s=2.0)
        self._down_logged = False

    async def failed(self, circuit: str, threshold: int) -> CircuitState | None:
        answer = await self._eval(_FAILED, circuit, threshold)
        if answer is None:
            return None
        since = float(answer[1])
        return CircuitState(int(answer[0]), None if since < 0 else since)

    async def succeeded(self, circuit: str) -> None:
        await self._eval(_SUCCEEDED, circuit)

    async def claim_trial(
        self, circuit: str, cooldown_s: float, lease_s: float, *, claimant: str | None = None
    ) -> bool | None:
        """Whether this caller may send the one half-open trial (None: Redis is down).
        `claimant` names the caller (default: a new name per claim); the same claimant
        asking again while its lease runs is granted again."""
        claimant = claimant or uuid.uuid4().hex
        answer = await self._eval(_TRIAL, circuit, cooldown_s, lease_s, claimant)
        return None if answer is None else bool(int(answer))

    async def states(self) -> dict[str, CircuitState] | None:
        answer = await self._eval(_STATES)
        if answer is None:
            return None
        now = float(answer[0])
        states: dict[str, CircuitState] = {}
        for circuit, value in zip(answer[1::2], answer[2::2], strict=True):
            failures, opened, trial = value.split()[:3]
            open_for = None if float(opened) == 0 else now - float(opened)
            states[circuit] = CircuitState(int(failures), open_for, float(trial) > now)
        return states

    async def aclose(self) -> None:
        await self._clients.aclose()

    async def _eval(self, script: str, *args: Any) -> Any:
        try:
            answer = await self._eval_once_more(script, args)
        except Exception as exc:
            if not is_down(exc):
                raise
            if not self._down_logged:
                log.warning(
                    "Redis at %s is unreachable (%s); circuit breakers are per process until "
                    "it is back",
                    self.url,
                    exc,
                )
                self._down_logged = True
            return None
        if self._down_logged:
            log.warning("Redis at %s is back; circuit breakers are shared again", self.url)
            self._down_logged = False
        return answer

    async def _eval_once_more(self, script: str, args: tuple[Any, ...]) -> Any:
        """The script, tried again on a fresh connection if the first one failed: a pooled
        connection the server dropped fails once and is replaced (the retried trial claim
        carries the same claimant; a failure counted twice, if Redis ran the script and
        only its reply was lost, opens the circuit one failure early)."""
        import redis.exceptions

        try:
            return await run_script(self._clients.get(), script, [_HASH], args)
        except redis.exceptions.ConnectionError:  # not a timeout: a hung Redis waits once
            return await run_script(self._clients.get(), script, [_HASH], args)
