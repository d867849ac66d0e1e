--[[
admit_send: decides whether an agent may send one more message, before anything of it is stored:
its token bucket (rate and burst) and its backlog (its messages accepted and not yet delivered).
Both keys live in the sender's slot. A refusal changes nothing but the bucket's refill time.

KEYS[1]  send quota hash of the sender (tokens, at)
KEYS[2]  open-sends sorted set of the sender (member = target "\n" message id, score = deadline ms)
ARGV[1]  now (ms)
ARGV[2]  tokens added per second          ARGV[3] bucket size (burst)
ARGV[4]  backlog cap (open sends)         ARGV[5] member of this send
ARGV[6]  deadline of this send (ms)

Returns  {'OK'}                      admitted: one token taken, the send counted as open
         {'RATE', retryAfterMs}      no token: retry after that long
         {'BACKLOG', openCount}      the backlog is at its cap (the caller prunes delivered
                                     messages from the set and asks once more)

Memory: writes only on admission, which is refused above the high-water mark before this runs.
]]
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])

-- Sends past their deadline are settled one way or another (delivered or dead-lettered).
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZSCORE', KEYS[2], ARGV[5]) then
  return {'OK'}
end

local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
end
if tokens < 1 then
  return {'RATE', math.ceil((1 - tokens) * 1000 / rate)}
end

local open = redis.call('ZCARD', KEYS[2])
if open >= cap then
  return {'BACKLOG', open}
end

-- Tokens are stored as a string: Lua numbers would be truncated to integers on the way to Redis.
-- No expiry: one small hash per agent of the registry, and a key that vanished on its own would
-- show up as a change in a store nobody wrote to.
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now)
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
local latest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], math.max(tonumber(latest[2]), now) + 1000)
return {'OK'}
