#!lua flags=allow-oom
--[[
settle_push: records the target's answer to a pushed message (accept, decline, cancel) and
acknowledges the push-lane entry, fenced by the agent's push lease. The reply itself was appended
to the sender's shard *before* this runs (with an id derived from the message id, so that append is
idempotent): a replica that dies between the two steps leaves the entry pending, and its successor
sees the reply and settles without asking the agent again.

KEYS[1]  push lane stream of the agent
KEYS[2]  push lease of the agent
KEYS[3]  ledger hash of the message
KEYS[4]  open-messages sorted set of the shard
KEYS[5]  set of agents with a non-empty push lane (shard)
ARGV[1]  consumer group   ARGV[2] push-lane entry id   ARGV[3] push lease value
ARGV[4]  terminal state: answered | declined | cancelled | delivered
ARGV[5]  now (ms)   ARGV[6] ledger retention, seconds   ARGV[7] agent id   ARGV[8] message id

Returns  1 when settled, 0 when the entry was already settled
Errors   'FENCED ...' when the caller no longer holds the push lease

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): settling frees the push-lane entry. What it adds is bounded by what was accepted before.
]]
--- @include lease
local fenced = fenced_unless_held(KEYS[2], ARGV[3], 'push')
if fenced then return fenced end
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('XLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[5], ARGV[7]) end
local ledger = redis.call('HMGET', KEYS[3], 'lane_id', 'state')
-- Only a message still routed to this very entry moves to its final state: an `elicit` that
-- already timed out stays expired.
if ledger[1] == ARGV[2] and ledger[2] == 'routed' then
  redis.call('HSET', KEYS[3], 'state', ARGV[4], 'delivered_at', ARGV[5], 'via', 'elicitation')
  redis.call('ZREM', KEYS[4], ARGV[8])
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
return acked
