#!lua flags=allow-oom
--[[
drain_push_lane: moves every undelivered entry of an agent's push lane to its poll lane, in order,
each exactly once — used when the agent is rolled back to legacy or has no live elicitation
session. The caller holds the agent's push lease, so no replica is pushing these entries meanwhile.

KEYS[1]  push lane stream   KEYS[2] poll lane stream   KEYS[3] mailbox hash
KEYS[4]  push lease         KEYS[5] set of agents with a non-empty push lane (shard)
ARGV[1]  push lease value   ARGV[2] ledger key prefix of the shard   ARGV[3] via for moved messages
ARGV[4]  now (ms)           ARGV[5] at most this many entries per call  ARGV[6] agent id
ARGV[7]  doorbell channel   ARGV[8] consumer group   ARGV[9] doorbell topic of the agent's poll lane

Returns  {moved, remaining}
Errors   'FENCED ...' when the caller does not hold the push lease

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): moving undeliverable pushes to the poll lane is how they still reach their agent. What it adds is bounded by what was accepted before.
]]
--- @include fields
--- @include lease
--- @include entries
local fenced = fenced_unless_held(KEYS[4], ARGV[1], 'push')
if fenced then return fenced end
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[5])
local moved = 0
for _, entry in ipairs(entries) do
  local id = entry[1]
  local f = fields_of(entry[2])
  local messageId, pollPayload = f[LANE.messageId], f[LANE.pollPayload]
  local ledger = ARGV[2] .. (messageId or '')
  if messageId and pollPayload and redis.call('HGET', ledger, 'lane_id') == id then
    local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
    local pollId = redis.call('XADD', KEYS[2], '*', LANE.messageId, messageId, LANE.sequence, seq, LANE.via, ARGV[3],
      LANE.payload, pollPayload, LANE.traceparent, f[LANE.traceparent] or '', LANE.checksum, f[LANE.checksum] or '')
    redis.call('HSET', KEYS[3], 'last', pollId)
    redis.call('HSET', ledger, 'lane', 'poll', 'lane_id', pollId, 'via', ARGV[3], 'seq', seq, 'drained_at', ARGV[4])
    moved = moved + 1
  end
  redis.call('XACK', KEYS[1], ARGV[8], id)
  redis.call('XDEL', KEYS[1], id)
end
local remaining = redis.call('XLEN', KEYS[1])
if remaining == 0 then redis.call('SREM', KEYS[5], ARGV[6]) end
if moved > 0 then redis.call('PUBLISH', ARGV[7], ARGV[9]) end
return {moved, remaining}
