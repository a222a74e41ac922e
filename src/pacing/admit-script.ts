/**
 * The limiter's Redis script (GCRA slot scheduling), as source text.
 *
 * Kept in a TypeScript module, not a .lua file read at run time, because a Lambda ships as one
 * bundle with no other files (SST's esbuild bundle): the script must travel inside the code.
 * Edit it here; docs/pacing.md explains the algorithm.
 */
export const ADMIT_LUA = String.raw`--[[
  Admits up to n dial tasks against the calls-per-second limit, in one atomic step, and returns
  the time slot at which each admitted task may be dialed (GCRA / slot scheduling).

  Admitted slots are spaced by interval = ceil(1e6 / limit) microseconds, so any limit + 1
  consecutive slots span at least one second: no [t, t + 1000 ms) window can hold more than
  'limit' of them, however many dialers call concurrently. Slots are granted at most
  'horizon' microseconds ahead of now, which spreads admissions over the second instead of
  bursting at its start. Time comes from Redis TIME: dialers' clocks never matter.

    Input:
      KEYS[1] pacer hash:
                tat        theoretical arrival time: the next free slot, microseconds since epoch
                s<i>       unix second held by history bucket i (i = second % buckets)
                a<i>       tasks admitted with a slot in that second
                r<i>       tasks refused (rate-limited) in that second

      ARGV[1] limit       calls per second, integer >= 1
      ARGV[2] n           tasks asking for admission, integer >= 0
      ARGV[3] horizon     how far ahead slots may be granted, microseconds
      ARGV[4] buckets     history ring size (seconds kept)
      ARGV[5] ttl         seconds the hash outlives the last call
      ARGV[6] deferMax    how far ahead a deferral may be promised, microseconds
      ARGV[7] claim       '0' for tasks asking the first time, which may not overtake promised
                          slots (below); '1' (or absent) for tasks back for their promised slots
      ARGV[8] promise     '1' (or absent): the refused tasks will be deferred to the slots
                          promised to them, so the cursor moves past them; '0': they will not
                          (the caller cannot defer), nothing is promised
      ARGV[9] notBefore   no slot sooner than now + this, microseconds (0 or absent: no floor);
                          a dialer back from degraded mode whose local slots still lie ahead

    Output: { nowSec, nowMicros, k, firstOffset, interval, admittedThisSecond, deferOffset }
      k admitted; slot i (0 <= i < k) is at now + firstOffset + i * interval microseconds.
      admittedThisSecond counts slots (of every dialer) falling in the current second.
      The n - k refused tasks are deferred: refused task j should come back at
      now + min(deferOffset + j * interval, deferMax) microseconds.

  Deferral cursor (field dtat): the free slots after 'tat' already promised to earlier deferred
  tasks, so a backlog comes back spread at the limit instead of all at the next free slot (which
  would make every deferred task return, be refused and be re-sent again each second). Promises
  are never further than deferMax ahead: a task beyond it returns at deferMax and asks again, so
  raising the limit takes effect within deferMax.

  No overtaking: while slots are promised ('dtat' ahead of the next free slot), a task asking
  the first time (claim = '0') is not admitted; it is promised a slot after the promised ones.
  Tasks back for their promise (claim = '1') take the next free slots, in the order they come. Without this rule a
  burst of new tasks takes the slots promised to deferred ones, those come back to find them gone
  and are sent to the end of the line, and the backlog's last tasks wait seconds past the time
  the limit allows (the bench: a 2.5 s gap at the end of 1,000 tasks at 50 CPS). The rule holds
  only while the line moves: once no slot has been taken for a horizon ('tat' more than a horizon
  in the past), the promised tasks are not coming (their campaign was paused and enrichment
  dropped them, the queue was purged, a re-send failed) and new tasks take the free slots, so a
  dead line stalls them for about a second, not until its promises expire (up to deferMax).

  Missing state (new, expired, or lost with a Redis restart or failover): slots granted before the
  loss may lie up to 'horizon' ahead, unseen. The first slot is then put at now + horizon + interval,
  after every such slot and one interval more, so no 1000 ms window can hold more than 'limit'
  (a pause of about one horizon, once). Tasks refused during that pause (field 'pause' holds its
  end) are not counted as rate-limited in the history: a new stack's first tasks read as "50 %
  deferred, demand above the limit" in status and doctor (found by a new user at 100 CPS).
]]
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local buckets = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local deferMax = tonumber(ARGV[6]) or 0
local claim = ARGV[7] ~= '0'
local promise = ARGV[8] ~= '0'
local notBefore = tonumber(ARGV[9]) or 0

if not limit or limit < 1 then
  return redis.error_reply('ERR dialctl admit: limit must be an integer >= 1')
end

local t = redis.call('TIME')
local nowSec = tonumber(t[1])
local nowMicros = tonumber(t[2])
local now = nowSec * 1000000 + nowMicros
local interval = math.ceil(1000000 / limit)

-- One read for the common case (most calls under overload are refusals): the next free slot
-- and the current second's bucket.
local cur = nowSec % buckets
local vals = redis.call('HMGET', key, 'tat', 's' .. cur, 'a' .. cur, 'dtat', 'pause')
local tat = tonumber(vals[1])
local fresh = tat == nil
if fresh then
  tat = now + horizon + interval
end
-- the missing-state pause ends at 'pause'; refusals before then are the pause's, not the limit's
local pauseEnd = tonumber(vals[5])
local pausing = fresh or (pauseEnd ~= nil and now < pauseEnd)
local dtat = tonumber(vals[4]) or 0
local held = {}
held[nowSec] = tonumber(vals[2]) == nowSec
local admittedThisSecond = 0
if held[nowSec] then
  admittedThisSecond = tonumber(vals[3]) or 0
end

local start = tat
if start < now then
  start = now
end
if notBefore > 0 and start < now + notBefore then
  start = now + notBefore
end

local k = 0
local overtaking = not claim and dtat > start and tat >= now - horizon
if n > 0 and start < now + horizon and not overtaking then
  k = math.ceil((now + horizon - start) / interval)
  if k > n then
    k = n
  end
end

-- Adds 'count' admitted ('a') or refused ('r') tasks to 'second''s bucket, resetting a bucket
-- that still holds an older second.
local function bump(field, second, count)
  local i = second % buckets
  if held[second] == nil then
    held[second] = tonumber(redis.call('HGET', key, 's' .. i)) == second
  end
  if held[second] then
    redis.call('HINCRBY', key, field .. i, count)
  else
    local a, r = 0, 0
    if field == 'a' then a = count else r = count end
    redis.call('HSET', key, 's' .. i, second, 'a' .. i, a, 'r' .. i, r)
    held[second] = true
  end
  if field == 'a' and second == nowSec then
    admittedThisSecond = admittedThisSecond + count
  end
end

local nextFree = start + k * interval
if k > 0 or fresh then
  -- %.0f: Lua's default number formatting keeps 14 digits, too few for microseconds since 1970.
  redis.call('HSET', key, 'tat', string.format('%.0f', nextFree))
  if fresh then
    redis.call('HSET', key, 'pause', string.format('%.0f', nextFree))
  end
  -- The k slots cover at most two or three seconds (horizon <= a few seconds): count each one.
  local i = 0
  while i < k do
    local slot = start + i * interval
    local second = math.floor(slot / 1000000)
    local last = math.min(k - 1, math.floor(((second + 1) * 1000000 - 1 - start) / interval))
    bump('a', second, last - i + 1)
    i = last + 1
  end
end
local deferStart = nextFree
if n > k then
  -- The missing-state pause refuses what the limit would admit: not rate limiting (demand above
  -- the limit), so the history, which status and doctor read as such, does not count it.
  if not pausing then
    bump('r', nowSec, n - k)
  end
  if dtat > deferStart then
    deferStart = dtat
  end
  local promised = deferStart + (n - k) * interval
  if promised > now + deferMax then
    promised = now + deferMax
  end
  if promise and promised > dtat then
    redis.call('HSET', key, 'dtat', string.format('%.0f', promised))
  end
end
-- Every call that wrote the hash refreshes its TTL, so it never lives without one.
redis.call('EXPIRE', key, ttl)

local firstOffset = 0
if k > 0 then
  firstOffset = start - now
end
return { nowSec, nowMicros, k, firstOffset, interval, admittedThisSecond, deferStart - now }
`
