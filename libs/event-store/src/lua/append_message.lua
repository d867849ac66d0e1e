--[[
append_message: appends an accepted message to its target's shard events stream and opens its
ledger record, once per message id (a retried append returns the first stream id).

KEYS[1]  events stream of the target's shard
KEYS[2]  ledger hash of the message
KEYS[3]  open-messages sorted set of the shard (score = when a terminal state is due, ms: open_until)
ARGV[1]  JSON table (redis/messages.ts builds it): id, from, to, kind, protocol (the sender's),
         accepted_at and deadline_at (ms), awaits_reply ('1' or '0'), in_reply_to (or ''),
         traceparent (or ''), bell (doorbell channel of the shard), open_until: when the message
         must have a terminal state (ms): its deadline; for an `elicit` question the deadline plus
         the time its caller has to record how it ended; checksum: the envelope checksum
         (protocol/checksum.ts) of what the sender sent, stored beside the envelope
ARGV[2]  canonical envelope (JSON), stored as is in the events entry

Returns  {'APPENDED', streamId} | {'DUPLICATE', streamId}

Memory: refused when Redis is full (no allow-oom): its first write, XADD, fails before anything
is written, and the sender is told STORE_FULL. The bridge's own record of an agent's answer runs
this same script as `append_answer`, with allow-oom (scripts.ts): the delivered entry is settled,
and freed, only after it, and there is at most one per message accepted before.
]]
--- @include fields
local a = cjson.decode(ARGV[1])
local known = redis.call('HGET', KEYS[2], 'events_id')
if known then
  return {'DUPLICATE', known}
end
local streamId = redis.call('XADD', KEYS[1], '*', EVENT.type, 'message', EVENT.messageId, a.id, EVENT.envelope, ARGV[2], EVENT.checksum, a.checksum)
redis.call('HSET', KEYS[2],
  'id', a.id, 'from', a.from, 'to', a.to, 'kind', a.kind, 'protocol', a.protocol,
  'state', 'accepted', 'accepted_at', a.accepted_at, 'deadline_at', a.deadline_at,
  'awaits_reply', a.awaits_reply, 'in_reply_to', a.in_reply_to, 'events_id', streamId, 'traceparent', a.traceparent)
redis.call('ZADD', KEYS[3], a.open_until, a.id)
redis.call('PUBLISH', a.bell, 'events')
return {'APPENDED', streamId}
