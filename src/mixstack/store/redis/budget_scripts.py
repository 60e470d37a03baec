"""The Lua scripts behind budget holds in Redis (see `store/redis/budgets.py`).

One hash per key, `mixstack:bud:{key}`, holds everything the scripts decide on, so it lives
or goes (restart, eviction) as one piece:

    epoch, gen, ready, loaded      which life of the numbers this is; admissions wait for
                                   `ready`, then for the store's numbers (`loaded`)
    spent, used                    the key's spend (USD in nano-dollars, tokens) read from
                                   the store when the numbers were loaded
    learned, ulearned              spend settled through Redis since then
    u:<owner>, t:<owner>           what a process holds now; l:<owner> its lease's end
    b:<hold id>                    a store hold (taken while Redis was down) still in flight
                                   when the numbers were loaded: "nano tokens"
    r:<hold id>                    a store hold settled before the numbers were loaded

`mixstack:bud:gen` (one hash for all keys) says when this Redis's numbers were born
(`born`) and when each key last took a hold (`k:<key>`): a key used within the day whose
hash is missing was evicted, and one that comes back after a restart waits until every
process has uploaded its holds. Times come from Redis's clock.
"""

from __future__ import annotations

from mixstack.store.redis.rate_scripts import ADMIT_FN, SETTLE_FN

__all__ = ["APPLY", "LOAD", "RECOVER", "RELEASE", "RESERVE", "RESERVE_ADMITTED", "TOUCH", "USAGE"]

# KEYS[1]: the key's hash, KEYS[2]: the generation hash
# `open(now, key_id, grace)` returns the key's fields (rebuilt when missing or stale)
_OPEN = """
local IDLE_S = 86400
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fields()
  local all = redis.call('HGETALL', KEYS[1])
  local s = {}
  for i = 1, #all, 2 do s[all[i]] = all[i + 1] end
  return s
end
local function open(now, key_id, grace)
  local born = redis.call('HGET', KEYS[2], 'born')
  if not born then
    born = tostring(now)
    redis.call('HSET', KEYS[2], 'born', born)
  end
  local s = fields()
  if s.epoch and s.gen == born then return s end
  -- numbers that were lost (evicted, or born again after a Redis restart or an outage)
  -- wait until every live process has uploaded what it holds; numbers that expired after
  -- a day unused had no hold in flight
  local ready = math.max(now, tonumber(born) + grace)
  local used_at = tonumber(redis.call('HGET', KEYS[2], 'k:' .. key_id) or '0')
  if not s.epoch and now - used_at < IDLE_S - 60 then ready = now + grace end
  redis.call('DEL', KEYS[1])
  local epoch = tostring(now) .. ':' .. redis.call('HINCRBY', KEYS[2], 'epochs', 1)
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'gen', born, 'ready', tostring(ready),
    'loaded', '0', 'learned', 0, 'ulearned', 0)
  return fields()
end
local function purge(s, now)
  local gone = {}
  for name, value in pairs(s) do
    if string.sub(name, 1, 2) == 'l:' and tonumber(value) <= now then
      gone[#gone + 1] = string.sub(name, 3)
    end
  end
  for _, owner in ipairs(gone) do
    redis.call('HDEL', KEYS[1], 'l:' .. owner, 'u:' .. owner, 't:' .. owner)
    s['l:' .. owner] = nil
    s['u:' .. owner] = nil
    s['t:' .. owner] = nil
  end
end
local function totals(s)
  local usd = tonumber(s.spent) + tonumber(s.learned)
  local tok = tonumber(s.used) + tonumber(s.ulearned)
  for name, value in pairs(s) do
    local kind = string.sub(name, 1, 2)
    if kind == 'u:' then usd = usd + tonumber(value)
    elseif kind == 't:' then tok = tok + tonumber(value)
    elseif kind == 'b:' then
      local sp = string.find(value, ' ')
      usd = usd + tonumber(string.sub(value, 1, sp - 1))
      tok = tok + tonumber(string.sub(value, sp + 1))
    end
  end
  return usd, tok
end
"""

# `reserve(key id, owner, cost nano-USD, tokens, lease s, grace s, the key's period start)`
# → {'ok', epoch} | {'no', epoch, reason} | {'wait', epoch, seconds} | {'load', epoch}
_RESERVE_FN = (
    _OPEN
    + """
local function reserve(key_id, owner, cost, tokens, lease, grace, period)
  local now = clock()
  local s = open(now, key_id, grace)
  redis.call('EXPIRE', KEYS[1], IDLE_S)
  redis.call('HSET', KEYS[2], 'k:' .. key_id, tostring(now))
  if now < tonumber(s.ready) then return {'wait', s.epoch, tostring(tonumber(s.ready) - now)} end
  if s.loaded == '1' and period > tonumber(s.period) then
    -- the key's budget period started again: the store's spend is back at zero (holds in
    -- flight still count)
    for name, _ in pairs(s) do
      if string.sub(name, 1, 2) == 'b:' then redis.call('HDEL', KEYS[1], name) end
    end
    redis.call('HSET', KEYS[1], 'loaded', '0', 'learned', 0, 'ulearned', 0)
    s.loaded = '0'
  end
  if s.loaded ~= '1' then return {'load', s.epoch} end
  purge(s, now)
  local usd, tok = totals(s)
  if tonumber(s.budget) >= 0 and usd + cost > tonumber(s.budget) then
    return {'no', s.epoch, 'usd'}
  end
  if tonumber(s.maxtok) >= 0 and tok + tokens > tonumber(s.maxtok) then
    return {'no', s.epoch, 'tokens'}
  end
  redis.call('HINCRBY', KEYS[1], 'u:' .. owner, cost)
  redis.call('HINCRBY', KEYS[1], 't:' .. owner, tokens)
  redis.call('HSET', KEYS[1], 'l:' .. owner, tostring(now + lease))
  return {'ok', s.epoch}
end
"""
)

# KEYS: the key's hash, the generation hash. ARGV: as `reserve` takes them
RESERVE = (
    _RESERVE_FN
    + """
return reserve(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
  tonumber(ARGV[6]), tonumber(ARGV[7]))
"""
)

# The rate window's admission and the hold in one round trip (`rate_scripts.py`).
# KEYS: the key's hash, the generation hash, the window's three keys
# ARGV: `reserve`'s seven, then rpm (-1: none), tpm (-1: none), tokens, window seconds
# → {kind, epoch, then the window's answer as `admit_rate` gives it}:
#   'rate'   refused by the window (nothing held; no epoch)
#   'ok'     admitted and held
#   'no'     over budget: the entry counts, with no tokens
#   or `reserve`'s {'wait' | 'load', epoch, …}: the numbers are being rebuilt, no entry
RESERVE_ADMITTED = (
    _RESERVE_FN
    + ADMIT_FN
    + SETTLE_FN
    + """
local rate = admit_rate(KEYS[3], KEYS[4], KEYS[5], tonumber(ARGV[8]), tonumber(ARGV[9]),
  tonumber(ARGV[10]), tonumber(ARGV[11]))
local entry = rate[1]
if entry == 0 then return {'rate', '', unpack(rate)} end
local held = reserve(ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
if held[1] == 'ok' then return {'ok', held[2], unpack(rate)} end
if held[1] == 'no' then
  settle_rate(KEYS[4], entry, 0)
  return {'no', held[2], unpack(rate)}
end
drop_rate(KEYS[3], KEYS[4], entry)
return held
"""
)

# ARGV: epoch, budget (nano, -1: none), max tokens (-1: none), period start, spent (nano),
# tokens used, then the store's holds in flight: id, nano, tokens, …
LOAD = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[1], 'loaded') == '1' then return 0 end
redis.call('HSET', KEYS[1], 'budget', ARGV[2], 'maxtok', ARGV[3], 'period', ARGV[4],
  'spent', ARGV[5], 'used', ARGV[6], 'loaded', '1')
for i = 7, #ARGV, 3 do
  local settled = redis.call('HGET', KEYS[1], 'r:' .. ARGV[i])
  if settled then
    -- settled while the store was read: its spend may be missing from what was read
    local sp = string.find(settled, ' ')
    redis.call('HINCRBY', KEYS[1], 'learned', tonumber(string.sub(settled, 1, sp - 1)))
    redis.call('HINCRBY', KEYS[1], 'ulearned', tonumber(string.sub(settled, sp + 1)))
  else
    redis.call('HSET', KEYS[1], 'b:' .. ARGV[i], ARGV[i + 1] .. ' ' .. ARGV[i + 2])
  end
end
for _, name in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(name, 1, 2) == 'r:' then redis.call('HDEL', KEYS[1], name) end
end
return 1
"""

# What one process changes in these numbers: holds it takes back or uploads, spend it
# settled. ARGV: owner, epoch, lease s, held nano (+ upload, - free), held tokens,
# spent nano, tokens used → 1, or 0 when the epoch moved on (nothing changed)
APPLY = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return 0 end
local owner = ARGV[1]
local usd = redis.call('HINCRBY', KEYS[1], 'u:' .. owner, ARGV[4])
local tok = redis.call('HINCRBY', KEYS[1], 't:' .. owner, ARGV[5])
if usd <= 0 and tok <= 0 then
  redis.call('HDEL', KEYS[1], 'u:' .. owner, 't:' .. owner)
elseif tonumber(ARGV[4]) > 0 or tonumber(ARGV[5]) > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  redis.call('HSET', KEYS[1], 'l:' .. owner, tostring(now + tonumber(ARGV[3])))
end
redis.call('HINCRBY', KEYS[1], 'learned', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'ulearned', ARGV[7])
return 1
"""

# The heartbeat, per key this process has something on. ARGV: key id, owner, lease s, grace s
# → the current epoch (the caller uploads what is not in it)
TOUCH = (
    _OPEN
    + """
local now = clock()
local s = open(now, ARGV[1], tonumber(ARGV[4]))
if s['u:' .. ARGV[2]] or s['t:' .. ARGV[2]] then
  redis.call('HSET', KEYS[1], 'l:' .. ARGV[2], tostring(now + tonumber(ARGV[3])))
end
return s.epoch
"""
)

# A store hold settled (its spend committed to the store). ARGV: hold id, spent nano,
# tokens used
RELEASE = """
if not redis.call('HGET', KEYS[1], 'epoch') then return 1 end
if redis.call('HGET', KEYS[1], 'loaded') ~= '1' then
  redis.call('HSET', KEYS[1], 'r:' .. ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
  return 1
end
if redis.call('HDEL', KEYS[1], 'b:' .. ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'learned', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'ulearned', ARGV[3])
end
return 1
"""

# After an outage: the numbers every process kept in Redis are stale (spend and holds went
# to the store meanwhile), so they are born again (each process that held through the
# store says so as Redis comes back)
RECOVER = """
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'born', tostring(tonumber(t[1]) + tonumber(t[2]) / 1000000))
return 1
"""

# → {loaded, spent+learned nano, held nano, used+ulearned, held tokens}
USAGE = (
    _OPEN
    + """
local s = fields()
if not s.epoch or s.loaded ~= '1' then return {0, '0', '0', '0', '0'} end
purge(s, clock())
local usd, tok = totals(s)
local spent = tonumber(s.spent) + tonumber(s.learned)
local used = tonumber(s.used) + tonumber(s.ulearned)
return {1, tostring(spent), tostring(usd - spent), tostring(used), tostring(tok - used)}
"""
)
