#!lua flags=allow-oom
--[[
settle_round: settles the answered entries of a 2026-07-28 round and releases its push lease, in one
step, fenced by the lease. What settle_push does for one entry, for each (the replies were appended
to the senders' shards *before* this runs, with ids derived from the message ids). Entries a round
handed out but got no answer for stay pending: the next round hands them out again. Decision 0009.

KEYS[1]  push lane stream of the agent
KEYS[2]  push lease of the agent
KEYS[3]  open-messages sorted set of the shard
KEYS[4]  set of agents with a non-empty push lane (shard)
KEYS[5]  mailbox hash of the agent
ARGV[1]  consumer group   ARGV[2] push lease value   ARGV[3] now (ms)   ARGV[4] ledger retention, s
ARGV[5]  agent id         ARGV[6] ledger key prefix of the shard
ARGV[7]  the settlements (JSON array of [push-lane entry id, message id, terminal state], the state
         answered | declined | cancelled)

Returns  {settled, push-lane length after, mailbox 'last', mailbox 'acked'}
Errors   'FENCED ...' when the round no longer holds the lease (nothing is changed)

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): settling frees the push-lane entries of the round. What it adds is bounded by what was accepted before.
]]
--- @include lease
local fenced = fenced_unless_held(KEYS[2], ARGV[2], 'push')
if fenced then return fenced end
local settled = 0
for _, settlement in ipairs(cjson.decode(ARGV[7])) do
  local entryId, messageId, state = settlement[1], settlement[2], settlement[3]
  settled = settled + redis.call('XACK', KEYS[1], ARGV[1], entryId)
  redis.call('XDEL', KEYS[1], entryId)
  local ledgerKey = ARGV[6] .. messageId
  local ledger = redis.call('HMGET', ledgerKey, 'lane_id', 'state')
  -- Only a message still routed to this very entry moves to its final state (as in settle_push).
  if ledger[1] == entryId and ledger[2] == 'routed' then
    redis.call('HSET', ledgerKey, 'state', state, 'delivered_at', ARGV[3], 'via', 'elicitation')
    redis.call('ZREM', KEYS[3], messageId)
    redis.call('EXPIRE', ledgerKey, ARGV[4])
  end
end
local remaining = redis.call('XLEN', KEYS[1])
if remaining == 0 then redis.call('SREM', KEYS[4], ARGV[5]) end
redis.call('DEL', KEYS[2])
local mailbox = redis.call('HMGET', KEYS[5], 'last', 'acked')
return {settled, remaining, mailbox[1] or '0-0', mailbox[2] or '0-0'}
