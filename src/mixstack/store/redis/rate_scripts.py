"""The Lua behind rate-limit windows in Redis (see `store/redis/__init__.py`).

A key's window is three Redis keys, in one hash slot:

    …:at    sorted set, entry id → admission time (Redis's clock)
    …:tok   hash, entry id → tokens, and `sum`: the tokens of every entry in it
    …:id    the entry id counter

Admission costs O(log n) plus the entries that left the window since the last call: the
running `sum` is kept as entries come, settle and go, so no call reads the whole window (at
a few thousand requests a minute, summing it took a millisecond of Redis's single thread
per request). A refusal by tokens reads the window once, to say when enough of it expires.

The functions are shared by `ADMIT` and by the budget script that admits and holds in one
round trip (`budget_scripts.RESERVE_ADMITTED`).
"""

from __future__ import annotations

__all__ = ["ADMIT", "ADMIT_FN", "SETTLE", "SETTLE_FN", "rate_keys"]

# HMGET and HDEL take their ids in chunks: Lua's unpack stops at a few thousand values
ADMIT_FN = """
local CHUNK = 1000
local function each_chunk(ids, fn)
  for i = 1, #ids, CHUNK do fn({unpack(ids, i, math.min(i + CHUNK - 1, #ids))}) end
end
local function tokens_of(tok, ids)
  local n = 0
  for _, v in ipairs(redis.call('HMGET', tok, unpack(ids))) do n = n + (tonumber(v) or 0) end
  return n
end
local function window_sum(at, tok)
  local sum = redis.call('HGET', tok, 'sum')
  if sum then return tonumber(sum) end
  -- a window written before the running sum was kept: counted once
  local total = 0
  each_chunk(redis.call('ZRANGE', at, 0, -1), function(ids)
    total = total + tokens_of(tok, ids)
  end)
  return total
end
-- (the id counter never expires: an entry settled after its window expired must not find
-- a new entry under its id)
-- → {0, reason, wait, sum} refused, or {id, '', '0', sum} admitted
local function admit_rate(at, tok, ids, rpm, tpm, tokens, window)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local sum = window_sum(at, tok)
  local old = redis.call('ZRANGEBYSCORE', at, '-inf', now - window)
  if #old > 0 then
    each_chunk(old, function(chunk)
      sum = sum - tokens_of(tok, chunk)
      redis.call('HDEL', tok, unpack(chunk))
    end)
    redis.call('ZREMRANGEBYSCORE', at, '-inf', now - window)
  end
  local count = redis.call('ZCARD', at)
  if count == 0 or sum < 0 then sum = 0 end
  redis.call('HSET', tok, 'sum', sum)
  if rpm >= 0 and count >= rpm then
    local first = redis.call('ZRANGE', at, count - rpm, count - rpm, 'WITHSCORES')
    return {0, 'rpm', tostring(tonumber(first[2]) + window - now), sum}
  end
  if tpm >= 0 and sum > 0 and sum + tokens > tpm then
    local remaining, allowed, wait = sum, math.max(tpm - tokens, 0), window
    local entries = redis.call('ZRANGE', at, 0, -1, 'WITHSCORES')
    for i = 1, #entries, 2 do
      remaining = remaining - (tonumber(redis.call('HGET', tok, entries[i])) or 0)
      if remaining <= allowed then wait = tonumber(entries[i + 1]) + window - now break end
    end
    return {0, 'tpm', tostring(wait), sum}
  end
  local id = redis.call('INCR', ids)
  redis.call('ZADD', at, now, id)
  redis.call('HSET', tok, id, tokens)
  redis.call('HINCRBY', tok, 'sum', tokens)
  local ttl = math.ceil(window) * 2
  redis.call('EXPIRE', at, ttl)
  redis.call('EXPIRE', tok, ttl)
  return {id, '', '0', sum}
end
"""

# an entry that left the window meanwhile stays gone
SETTLE_FN = """
local function settle_rate(tok, id, tokens)
  local was = redis.call('HGET', tok, id)
  if not was then return 0 end
  redis.call('HSET', tok, id, tokens)
  redis.call('HINCRBY', tok, 'sum', tokens - tonumber(was))
  return 1
end
-- the entry never happened (its request was sent back to be admitted again)
local function drop_rate(at, tok, id)
  local was = redis.call('HGET', tok, id)
  if was then
    redis.call('HDEL', tok, id)
    redis.call('HINCRBY', tok, 'sum', -tonumber(was))
  end
  redis.call('ZREM', at, id)
end
"""

# KEYS: the window's entries, their tokens, the id counter
# ARGV: rpm (-1: none), tpm (-1: none), tokens, window seconds
ADMIT = (
    ADMIT_FN
    + """
return admit_rate(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]))
"""
)

# KEYS: the window's tokens. ARGV: entry id, tokens
SETTLE = (
    SETTLE_FN
    + """
return settle_rate(KEYS[1], ARGV[1], tonumber(ARGV[2]))
"""
)


def rate_keys(key_id: str) -> list[str]:
    """The window's entries, their tokens and the id counter, in one hash slot per key."""
    tag = "{" + key_id + "}"
    return [f"mixstack:rl:{tag}:at", f"mixstack:rl:{tag}:tok", f"mixstack:rl:{tag}:id"]
