--[[
admit_send: decides whether an agent may send one more message, before anything of it is stored:
its token bucket (rate and burst) and its backlog (its messages accepted and not yet delivered).
Both keys live in the sender's slot. A refusal leaves both as they were.

KEYS[1]  send quota hash of the sender (tokens, at; sends_until: the expiry last set on KEYS[2])
KEYS[2]  open-sends sorted set of the sender (member = target "\n" message id, score = deadline ms)
KEYS[3]  an `elicit` question only: its wait record (hash, sender's slot), opened on admission
ARGV[1]  now (ms)
ARGV[2]  tokens added per second          ARGV[3] bucket size (burst)
ARGV[4]  backlog cap (open sends)         ARGV[5] member of this send
ARGV[6]  deadline of this send (ms)
ARGV[7]  with KEYS[3]: the wait record's time to live (ms)

Returns  {'OK'}                      admitted: one token taken, the send counted as open
         {'RATE', retryAfterMs}      no token: retry after that long
         {'BACKLOG', openCount}      the backlog is at its cap (the caller prunes delivered
                                     messages from the set and asks once more)

Cost: an admission is ZADD, HMGET, ZCARD and HSET (issue 16: Redis work per message). The send's
member is added first, so one ZADD NX both tells a retry from a new send and counts it; a refusal
takes it out again. Sends past their deadline are pruned only when the backlog looks full (they
can only matter then), and the set's expiry is moved only when a deadline passes the one last set,
which is set with EXPIRY_SLACK_MS to spare so that happens about once a minute per sender.

Memory: writes from its first call; Redis refuses new sends above the high-water mark before this
runs, and a full Redis refuses the ZADD before anything is written.
]]
local EXPIRY_SLACK_MS = 60000
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cap = tonumber(ARGV[4])
local deadline = tonumber(ARGV[6])

-- An admitted `elicit` opens its wait record here, before its question can be appended (and so
-- answered). HSETNX: a retried `elicit` must not turn an answer back into "waiting".
local function admitted()
  if KEYS[3] then
    redis.call('HSETNX', KEYS[3], 'state', 'waiting')
    redis.call('PEXPIRE', KEYS[3], ARGV[7])
  end
  return {'OK'}
end

if redis.call('ZADD', KEYS[2], 'NX', deadline, ARGV[5]) == 0 then
  return admitted() -- a retry of a send already admitted
end

local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'sends_until')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000)
end
if tokens < 1 then
  redis.call('ZREM', KEYS[2], ARGV[5])
  return {'RATE', math.ceil((1 - tokens) * 1000 / rate)}
end

-- The count includes this send. A set that holds only it was created just now (the ZADD above, or
-- re-created below), without an expiry.
local open = redis.call('ZCARD', KEYS[2])
local created = open == 1
if open > cap then
  -- Sends past their deadline are settled one way or another (delivered or dead-lettered).
  redis.call('ZREM', KEYS[2], ARGV[5])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  open = redis.call('ZCARD', KEYS[2])
  if open >= cap then
    return {'BACKLOG', open}
  end
  redis.call('ZADD', KEYS[2], deadline, ARGV[5])
  created = open == 0
end

-- Tokens are stored as a string: Lua numbers would be truncated to integers on the way to Redis.
-- No expiry: one small hash per agent of the registry, and a key that vanished on its own would
-- show up as a change in a store nobody wrote to.
local needed = math.max(deadline, now) + 1000
local expiry = tonumber(bucket[3]) or 0
if created or needed > expiry then
  expiry = needed + EXPIRY_SLACK_MS
  redis.call('PEXPIREAT', KEYS[2], expiry)
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now, 'sends_until', expiry)
else
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now)
end
return admitted()
