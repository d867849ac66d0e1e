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
ARGV[1]  consumer group
ARGV[2]  events entry id
ARGV[3]  lease value the caller holds (owner|fence): fencing for deposed routers
ARGV[4]  lane: 'poll' | 'push'
ARGV[5]  delivered via: 'legacy' | 'elicitation' | 'legacy_fallback'
ARGV[6]  message id
ARGV[7]  lane payload (JSON)
ARGV[8]  now (ms)
ARGV[9]  doorbell channel
ARGV[10] doorbell topic ('<lane>:<agent>')
ARGV[11] normalized communication event (JSON)
ARGV[12] communication log approximate max length
ARGV[13] mode: 'route' (a new message) | 'reroute' (a delivery.failed hand-back)
ARGV[14] reroute only: the push-lane entry id that failed ('' otherwise)
ARGV[15] answer for a waiting elicit (JSON), or '' when the message is not a reply
ARGV[16] push lane only: poll-lane payload kept for a later fallback or drain ('' otherwise)
ARGV[17] target agent id
ARGV[18] ledger retention after a terminal state, seconds
ARGV[19] trace context of the routing span (W3C traceparent) for the lane entry, or ''

Returns  {'ROUTED', laneEntryId, sequence} | {'ANSWERED'} | {'DUPLICATE', lane, laneEntryId}
Errors   'FENCED ...' when the caller no longer holds the shard lease (nothing is written).

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): routing moves accepted messages towards delivery, after which they are trimmed. What it adds is bounded by what was accepted before.
]]
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return redis.error_reply('FENCED the shard lease is no longer held by ' .. ARGV[3])
end
local routed = redis.call('HMGET', KEYS[5], 'lane', 'lane_id', 'state')
local duplicate
if ARGV[13] == 'reroute' then
  duplicate = routed[2] ~= ARGV[14] or (routed[3] ~= 'routed')
else
  duplicate = routed[1] ~= false
end
if duplicate then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return {'DUPLICATE', routed[1] or '', routed[2] or ''}
end

if ARGV[15] ~= '' and redis.call('HGET', KEYS[7], 'state') == 'waiting' then
  redis.call('HSET', KEYS[7], 'state', 'answered', 'answer', ARGV[15])
  redis.call('HSET', KEYS[5], 'state', 'delivered', 'lane', 'answer', 'via', ARGV[5], 'routed_at', ARGV[8], 'delivered_at', ARGV[8])
  redis.call('ZREM', KEYS[8], ARGV[6])
  redis.call('EXPIRE', KEYS[5], ARGV[18])
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[12], '*', 'c', ARGV[11])
  redis.call('PUBLISH', ARGV[9], 'answer:' .. cjson.decode(ARGV[15]).in_reply_to)
  return {'ANSWERED'}
end

local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
local laneId
if ARGV[4] == 'push' then
  laneId = redis.call('XADD', KEYS[3], '*', 'm', ARGV[6], 's', seq, 'v', ARGV[5], 'p', ARGV[7], 'q', ARGV[16], 'tp', ARGV[19])
  redis.call('SADD', KEYS[9], ARGV[17])
else
  laneId = redis.call('XADD', KEYS[3], '*', 'm', ARGV[6], 's', seq, 'v', ARGV[5], 'p', ARGV[7], 'tp', ARGV[19])
  redis.call('HSET', KEYS[4], 'last', laneId)
end
redis.call('HSET', KEYS[5], 'state', 'routed', 'lane', ARGV[4], 'lane_id', laneId, 'via', ARGV[5],
  'routed_at', ARGV[8], 'seq', seq)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[12], '*', 'c', ARGV[11])
redis.call('PUBLISH', ARGV[9], ARGV[10])
return {'ROUTED', laneId, seq}
