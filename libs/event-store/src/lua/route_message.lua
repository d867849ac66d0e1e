#!lua flags=allow-oom
--[[
route_message: moves a batch of one shard's events-stream entries into their targets' lanes, in
order. For each entry, appending to the lane, recording the routing in the ledger and acking the
source entry happen in this one script, so a router that crashes at any point leaves either
nothing done or everything done; re-running it for the same entries changes nothing.

A reply whose target has an `elicit` call waiting for it completes that call instead of entering a
lane (the answer is stored in the wait record and the waiter's doorbell rings).

Cost (issue 16: Redis work per message): per entry HMGET of its ledger record, HINCRBY of the
mailbox sequence, the lane XADD, the ledger HSET and the communication log XADD; per batch one
lease GET (fencing), one XACK of every entry, one mailbox HSET `last` per poll lane written, one
SADD of the push-lane agents and one PUBLISH per doorbell topic. The lane payloads travel as
arguments of their own, so only the small per-entry table is decoded.

KEYS[1]  events stream of the shard
KEYS[2]  shard lease
KEYS[3]  communication log stream of the shard
KEYS[4]  open-messages sorted set of the shard
KEYS[5]  set of agents with a non-empty push lane (shard)
then per entry i (from 0), KEYS[6 + 4i ..]:
         target lane stream (poll or push), target mailbox hash (seq, last), ledger hash of the
         message, elicit wait hash of the target for the message this one replies to (a
         placeholder otherwise)
ARGV[1]  JSON table (redis/shards.ts builds it), shared by the batch:
           group          consumer group
           lease          lease value the caller holds (owner|fence): fencing for deposed routers
           now            now (ms)
           bell           doorbell channel
           log_max        communication log approximate max length
           retention      ledger retention after a terminal state, seconds
then per entry i, ARGV[2 + 4i ..]:
         JSON table of the entry:
           entry_id       events entry id
           lane           'poll' | 'push'
           via            delivered via: 'legacy' | 'elicitation' | 'legacy_fallback'
           message_id     message id
           topic          doorbell topic ('<lane>:<agent>')
           mode           'route' (a new message) | 'reroute' (a delivery.failed hand-back)
           failed_lane_id reroute only: the push-lane entry id that failed ('' otherwise)
           answer         answer for a waiting elicit (JSON text), or '' when the message is not a reply
           answer_topic   doorbell topic of that elicit's wait ('answer:<message id>'), or ''
           target         target agent id
           traceparent    trace context of the routing span (W3C traceparent) for the lane entry, or ''
           checksum       envelope checksum carried into the lane entry, or '' (entries stored before checksums)
         lane payload (JSON text)
         push lane only: poll-lane payload kept for a later fallback or drain ('' otherwise)
         normalized communication event (JSON text)

Returns  one reply per entry, in order: {'ROUTED', laneEntryId, sequence} | {'ANSWERED'} |
         {'DUPLICATE', lane, laneEntryId}
Errors   'FENCED ...' when the caller no longer holds the shard lease (nothing is written).

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): routing moves accepted messages towards delivery, after which they are trimmed. What it adds is bounded by what was accepted before.
]]
--- @include fields
--- @include lease
local shared = cjson.decode(ARGV[1])
local fenced = fenced_unless_held(KEYS[2], shared.lease, 'shard')
if fenced then return fenced end

local replies, acks = {}, {}
local topics, topicSeen = {}, {}
local lastOf, mailboxes = {}, {}
local pushTargets, pushSeen = {}, {}
local function ring(topic)
  if not topicSeen[topic] then
    topicSeen[topic] = true
    topics[#topics + 1] = topic
  end
end

for i = 0, (#KEYS - 5) / 4 - 1 do
  local laneKey, mailboxKey, ledgerKey, waitKey = KEYS[6 + 4 * i], KEYS[7 + 4 * i], KEYS[8 + 4 * i], KEYS[9 + 4 * i]
  local a = cjson.decode(ARGV[2 + 4 * i])
  acks[#acks + 1] = a.entry_id
  local routed = redis.call('HMGET', ledgerKey, 'lane', 'lane_id', 'state')
  local duplicate
  if a.mode == 'reroute' then
    duplicate = routed[2] ~= a.failed_lane_id or (routed[3] ~= 'routed')
  else
    duplicate = routed[1] ~= false
  end
  if duplicate then
    replies[#replies + 1] = {'DUPLICATE', routed[1] or '', routed[2] or ''}
  elseif a.answer ~= '' and redis.call('HGET', waitKey, 'state') == 'waiting' then
    redis.call('HSET', waitKey, 'state', 'answered', 'answer', a.answer)
    redis.call('HSET', ledgerKey, 'state', 'delivered', 'lane', 'answer', 'via', a.via, 'routed_at', shared.now, 'delivered_at', shared.now)
    redis.call('ZREM', KEYS[4], a.message_id)
    redis.call('EXPIRE', ledgerKey, shared.retention)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', shared.log_max, '*', LOG.communication, ARGV[5 + 4 * i])
    ring(a.answer_topic)
    replies[#replies + 1] = {'ANSWERED'}
  else
    local seq = redis.call('HINCRBY', mailboxKey, 'seq', 1)
    local laneId
    if a.lane == 'push' then
      laneId = redis.call('XADD', laneKey, '*', LANE.messageId, a.message_id, LANE.sequence, seq, LANE.via, a.via,
        LANE.payload, ARGV[3 + 4 * i], LANE.pollPayload, ARGV[4 + 4 * i], LANE.traceparent, a.traceparent, LANE.checksum, a.checksum)
      if not pushSeen[a.target] then
        pushSeen[a.target] = true
        pushTargets[#pushTargets + 1] = a.target
      end
    else
      laneId = redis.call('XADD', laneKey, '*', LANE.messageId, a.message_id, LANE.sequence, seq, LANE.via, a.via,
        LANE.payload, ARGV[3 + 4 * i], LANE.traceparent, a.traceparent, LANE.checksum, a.checksum)
      if not lastOf[mailboxKey] then mailboxes[#mailboxes + 1] = mailboxKey end
      lastOf[mailboxKey] = laneId
    end
    redis.call('HSET', ledgerKey, 'state', 'routed', 'lane', a.lane, 'lane_id', laneId, 'via', a.via,
      'routed_at', shared.now, 'seq', seq)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', shared.log_max, '*', LOG.communication, ARGV[5 + 4 * i])
    ring(a.topic)
    replies[#replies + 1] = {'ROUTED', laneId, seq}
  end
end

-- What is said once per batch: the readers (wait_for_messages, ack_poll_lane) see the lanes and
-- the mailboxes' last ids only after the script, so the order within it does not matter to them.
for _, mailboxKey in ipairs(mailboxes) do
  redis.call('HSET', mailboxKey, 'last', lastOf[mailboxKey])
end
if #pushTargets > 0 then
  redis.call('SADD', KEYS[5], unpack(pushTargets))
end
if #acks > 0 then
  redis.call('XACK', KEYS[1], shared.group, unpack(acks))
end
for _, topic in ipairs(topics) do
  redis.call('PUBLISH', shared.bell, topic)
end
return replies
