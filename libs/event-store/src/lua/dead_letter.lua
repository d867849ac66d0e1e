#!lua flags=allow-oom
--[[
dead_letter: moves an events entry that cannot be parsed, or whose envelope fails its checksum,
out of the way (so it cannot block its shard forever) into the shard's dead-letter stream, and acks
it. Nothing is deleted: operators inspect the dead-letter stream. A checksum mismatch also ends the
message's ledger record as `dead_lettered` (a terminal state: the ledger says where it went) and
counts it in the shard's mismatch counter, which the controller reads (read-only mode).

KEYS[1]  events stream of the shard
KEYS[2]  shard lease
KEYS[3]  dead-letter stream of the shard
ARGV[1]  consumer group   ARGV[2] events entry id   ARGV[3] lease value   ARGV[4] reason
ARGV[5]  the entry's fields (JSON)
KEYS[4]  checksum mismatch counter of the shard   KEYS[5] ledger hash of the message (or a placeholder)
KEYS[6]  open-messages sorted set of the shard
ARGV[6]  message id of a checksum mismatch ('' for an undecodable entry)   ARGV[7] now (ms)
ARGV[8]  ledger retention after a terminal state, seconds

Returns  dead-letter entry id. Errors 'FENCED ...' when the lease is not held.

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): an entry that cannot be routed must leave the events stream for it to be trimmed. What it adds is bounded by what was accepted before.
]]
--- @include lease
local fenced = fenced_unless_held(KEYS[2], ARGV[3], 'shard')
if fenced then return fenced end
local id = redis.call('XADD', KEYS[3], '*', 'source_id', ARGV[2], 'reason', ARGV[4], 'fields', ARGV[5])
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if ARGV[6] ~= '' and acked == 1 then
  redis.call('INCR', KEYS[4])
  redis.call('HSET', KEYS[5], 'state', 'dead_lettered', 'dead_letter_id', id, 'closed_at', ARGV[7])
  redis.call('ZREM', KEYS[6], ARGV[6])
  redis.call('EXPIRE', KEYS[5], ARGV[8])
end
return id
