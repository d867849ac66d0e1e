#!lua flags=allow-oom
--[[
close_message: records how an `elicit` ended in the question's ledger record, once. A terminal state
already there (answered, declined, cancelled, expired, abandoned: set by a settle, an earlier close
or the router's census) is never rewritten, so a late or replayed close cannot turn `answered` into
`expired`. The answer is recorded beside it when there is one and none is recorded yet — also
beside `abandoned`, so an answer that came after its caller left is kept — and a replayed `elicit`
(same idempotency key) returns it for as long as the ledger record is kept.

The census closes a question `abandoned` (decision 0010) with ARGV[6] = now: only while it is still
overdue (open, score <= ARGV[6]), so a replay that moved the deadline on keeps it open.

Memory: one HSET of a few fields on an existing key; the ZREM and EXPIRE free memory. Runs when
Redis is full (flags=allow-oom): recording how a message ended lets the census and trimming forget it.

KEYS[1]  ledger hash of the message        KEYS[2]  open-messages sorted set of the shard
ARGV[1]  state (answered | declined | cancelled | expired | abandoned)   ARGV[2] now (ms)
ARGV[3]  ledger retention, s               ARGV[4] the answer as JSON, or ''
ARGV[5]  message id                        ARGV[6] close only if overdue at this instant (ms), or ''

Returns  the state the record has afterwards ('' when there is no record)
]]
-- Every ledger record has a state from its first write (append_message, dead_letter): no state, no record.
local record = redis.call('HMGET', KEYS[1], 'state', 'answer')
local current = record[1]
if not current then return '' end
if ARGV[6] ~= '' then
  local due = redis.call('ZSCORE', KEYS[2], ARGV[5])
  if not due or tonumber(due) > tonumber(ARGV[6]) then return current end
end
local terminal = { answered = true, declined = true, cancelled = true, expired = true, abandoned = true }
if not terminal[current] then
  redis.call('HSET', KEYS[1], 'state', ARGV[1], 'closed_at', ARGV[2])
  current = ARGV[1]
end
if ARGV[4] ~= '' and not record[2] then redis.call('HSET', KEYS[1], 'answer', ARGV[4]) end
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return current
