--[[
append_message: appends an accepted message to its target's shard events stream and opens its
ledger record, once per message id (a retried append returns the first stream id).

KEYS[1]  events stream of the target's shard
KEYS[2]  ledger hash of the message
KEYS[3]  open-messages sorted set of the shard (score = when a terminal state is due, ms: ARGV[13])
ARGV[1]  message id
ARGV[2]  canonical envelope (JSON)
ARGV[3]  from      ARGV[4] to      ARGV[5] kind      ARGV[6] source protocol
ARGV[7]  accepted at (ms)          ARGV[8] deadline (ms)
ARGV[9]  awaits reply: '1' or '0'  ARGV[10] in_reply_to or ''
ARGV[11] doorbell channel of the shard
ARGV[12] traceparent or ''
ARGV[13] when the message must have a terminal state (ms): its deadline; for an `elicit` question
         the deadline plus the time its caller has to record how it ended

Returns  {'APPENDED', streamId} | {'DUPLICATE', streamId}

Memory: refused when Redis is full (no allow-oom): its first write, XADD, fails before anything
is written, and the sender is told STORE_FULL. The bridge's own record of an agent's answer runs
this same script as `append_answer`, with allow-oom (scripts.ts): the delivered entry is settled,
and freed, only after it, and there is at most one per message accepted before.
]]
local known = redis.call('HGET', KEYS[2], 'events_id')
if known then
  return {'DUPLICATE', known}
end
local streamId = redis.call('XADD', KEYS[1], '*', 't', 'message', 'm', ARGV[1], 'e', ARGV[2])
redis.call('HSET', KEYS[2],
  'id', ARGV[1], 'from', ARGV[3], 'to', ARGV[4], 'kind', ARGV[5], 'protocol', ARGV[6],
  'state', 'accepted', 'accepted_at', ARGV[7], 'deadline_at', ARGV[8],
  'awaits_reply', ARGV[9], 'in_reply_to', ARGV[10], 'events_id', streamId, 'traceparent', ARGV[12])
redis.call('ZADD', KEYS[3], ARGV[13], ARGV[1])
redis.call('PUBLISH', ARGV[11], 'events')
return {'APPENDED', streamId}
