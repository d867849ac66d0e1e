#!lua flags=allow-oom
--[[
close_message: records how an `elicit` ended in the question's ledger record, once. A terminal state
already there (answered, declined, cancelled, expired: set by a settle, a drain or an earlier
close) is never rewritten, so a late or replayed close cannot turn `answered` into `expired`. The
answer is recorded beside it when there is one and none is recorded yet, so a replayed `elicit`
(same idempotency key) returns it for as long as the ledger record is kept.

Memory: one HSET of a few fields on an existing key; the ZREM and EXPIRE free memory.

KEYS[1]  ledger hash of the message        KEYS[2]  open-messages sorted set of the shard
ARGV[1]  state (answered | declined | cancelled | expired)   ARGV[2] now (ms)
ARGV[3]  ledger retention, s               ARGV[4] the answer as JSON, or ''
ARGV[5]  message id

Returns  the state the record has afterwards ('' when there is no record)

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): it records how a message ended, which lets the census and trimming forget it. What it adds is bounded by what was accepted before.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return '' end
local current = redis.call('HGET', KEYS[1], 'state')
local terminal = { answered = true, declined = true, cancelled = true, expired = true }
if not terminal[current] then
  redis.call('HSET', KEYS[1], 'state', ARGV[1], 'closed_at', ARGV[2])
  current = ARGV[1]
end
if ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'answer', ARGV[4]) end
redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return current
