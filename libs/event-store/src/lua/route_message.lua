#!lua flags=allow-oom
--[[
route_message: moves one events-stream entry into its target's lane. Appending to the lane,
recording the routing in the ledger and acking the source entry happen in this one script, so a
router that crashes at any point leaves either nothing done or everything done; re-running it for
the same entry changes nothing.

A reply whose target has an `elicit` call waiting for it completes that call instead of entering a
lane (the answer is stored in the wait record and the waiter's doorbell rings).

KEYS[1]  events stream of the shard
KEYS[2]  shard lease
KEYS[3]  target lane stream (poll or push)
KEYS[4]  target mailbox hash (seq, last)
KEYS[5]  ledger hash of the message
KEYS[6]  communication log stream of the shard
KEYS[7]  elicit wait hash of the target for the message this one replies to (a placeholder otherwise)
KEYS[8]  open-messages sorted set of the shard
KEYS[9]  set of agents with a non-empty push lane (shard)
ARGV[1]  JSON table (redis/shards.ts builds it):
           group          consumer group
           entry_id       events entry id
           lease          lease value the caller holds (owner|fence): fencing for deposed routers
           lane           'poll' | 'push'
           via            delivered via: 'legacy' | 'elicitation' | 'legacy_fallback'
           message_id     message id
           payload        lane payload (JSON text)
           now            now (ms)
           bell           doorbell channel
           topic          doorbell topic ('<lane>:<agent>')
           communication  normalized communication event (JSON text)
           log_max        communication log approximate max length
           mode           'route' (a new message) | 'reroute' (a delivery.failed hand-back)
           failed_lane_id reroute only: the push-lane entry id that failed ('' otherwise)
           answer         answer for a waiting elicit (JSON text), or '' when the message is not a reply
           answer_topic   doorbell topic of that elicit's wait ('answer:<message id>'), or ''
           poll_payload   push lane only: poll-lane payload kept for a later fallback or drain ('' otherwise)
           target         target agent id
           retention      ledger retention after a terminal state, seconds
           traceparent    trace context of the routing span (W3C traceparent) for the lane entry, or ''
           checksum       envelope checksum carried into the lane entry, or '' (entries stored before checksums)

Returns  {'ROUTED', laneEntryId, sequence} | {'ANSWERED'} | {'DUPLICATE', lane, laneEntryId}
Errors   'FENCED ...' when the caller no longer holds the shard lease (nothing is written).

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): routing moves accepted messages towards delivery, after which they are trimmed. What it adds is bounded by what was accepted before.
]]
--- @include fields
--- @include lease
local a = cjson.decode(ARGV[1])
local fenced = fenced_unless_held(KEYS[2], a.lease, 'shard')
if fenced then return fenced end
local routed = redis.call('HMGET', KEYS[5], 'lane', 'lane_id', 'state')
local duplicate
if a.mode == 'reroute' then
  duplicate = routed[2] ~= a.failed_lane_id or (routed[3] ~= 'routed')
else
  duplicate = routed[1] ~= false
end
if duplicate then
  redis.call('XACK', KEYS[1], a.group, a.entry_id)
  return {'DUPLICATE', routed[1] or '', routed[2] or ''}
end

if a.answer ~= '' and redis.call('HGET', KEYS[7], 'state') == 'waiting' then
  redis.call('HSET', KEYS[7], 'state', 'answered', 'answer', a.answer)
  redis.call('HSET', KEYS[5], 'state', 'delivered', 'lane', 'answer', 'via', a.via, 'routed_at', a.now, 'delivered_at', a.now)
  redis.call('ZREM', KEYS[8], a.message_id)
  redis.call('EXPIRE', KEYS[5], a.retention)
  redis.call('XACK', KEYS[1], a.group, a.entry_id)
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', a.log_max, '*', LOG.communication, a.communication)
  redis.call('PUBLISH', a.bell, a.answer_topic)
  return {'ANSWERED'}
end

local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
local laneId
if a.lane == 'push' then
  laneId = redis.call('XADD', KEYS[3], '*', LANE.messageId, a.message_id, LANE.sequence, seq, LANE.via, a.via,
    LANE.payload, a.payload, LANE.pollPayload, a.poll_payload, LANE.traceparent, a.traceparent, LANE.checksum, a.checksum)
  redis.call('SADD', KEYS[9], a.target)
else
  laneId = redis.call('XADD', KEYS[3], '*', LANE.messageId, a.message_id, LANE.sequence, seq, LANE.via, a.via,
    LANE.payload, a.payload, LANE.traceparent, a.traceparent, LANE.checksum, a.checksum)
  redis.call('HSET', KEYS[4], 'last', laneId)
end
redis.call('HSET', KEYS[5], 'state', 'routed', 'lane', a.lane, 'lane_id', laneId, 'via', a.via,
  'routed_at', a.now, 'seq', seq)
redis.call('XACK', KEYS[1], a.group, a.entry_id)
redis.call('XADD', KEYS[6], 'MAXLEN', '~', a.log_max, '*', LOG.communication, a.communication)
redis.call('PUBLISH', a.bell, a.topic)
return {'ROUTED', laneId, seq}
