--[[
route_message: moves one events-stream entry into its target's lane. Appending to the lane,
recording the routing in the ledger and acking the source entry happen in this one script, so a
router that crashes at any point leaves either nothing done or everything done; re-running it for
the same entry changes nothing.

KEYS[1]  events stream of the shard
KEYS[2]  shard lease
KEYS[3]  target lane stream (poll or push)
KEYS[4]  target mailbox hash (seq, last)
KEYS[5]  ledger hash of the message
KEYS[6]  communication log stream of the shard
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

Returns  {'ROUTED', laneEntryId, sequence} | {'DUPLICATE', lane, laneEntryId}
Errors   'FENCED ...' when the caller no longer holds the shard lease (nothing is written).
]]
if redis.call('GET', KEYS[2]) ~= ARGV[3] then
  return redis.error_reply('FENCED the shard lease is no longer held by ' .. ARGV[3])
end
local routed = redis.call('HMGET', KEYS[5], 'lane', 'lane_id')
if routed[1] then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  return {'DUPLICATE', routed[1], routed[2]}
end
local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
local laneId = redis.call('XADD', KEYS[3], '*', 'm', ARGV[6], 's', seq, 'v', ARGV[5], 'p', ARGV[7])
if ARGV[4] == 'poll' then
  redis.call('HSET', KEYS[4], 'last', laneId)
end
redis.call('HSET', KEYS[5], 'state', 'routed', 'lane', ARGV[4], 'lane_id', laneId, 'via', ARGV[5],
  'routed_at', ARGV[8], 'seq', seq)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[12], '*', 'c', ARGV[11])
redis.call('PUBLISH', ARGV[9], ARGV[10])
return {'ROUTED', laneId, seq}
