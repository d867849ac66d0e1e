#!lua flags=allow-oom
--[[
dead_letter_lane: takes a lane entry that failed its envelope checksum at delivery out of its lane
(so it is never delivered corrupted) into the shard's dead-letter stream, ends the message's ledger
record as `dead_lettered` (a terminal state: the ledger says where it went, the loss census does not
lose it) and counts it in the shard's mismatch counter, which the controller reads (read-only mode).
Idempotent: an entry already taken out changes nothing. Not fenced by the push lease: an entry that
does not match its checksum is corrupt whoever finds it, and taking it out twice is impossible.

KEYS[1]  the lane stream (poll or push) of the agent
KEYS[2]  ledger hash of the message
KEYS[3]  dead-letter stream of the agent's shard
KEYS[4]  checksum mismatch counter of the shard
KEYS[5]  open-messages sorted set of the shard
KEYS[6]  set of agents with a non-empty push lane (shard)
ARGV[1]  'poll' | 'push'   ARGV[2] lane entry id   ARGV[3] consumer group of a push lane ('' for poll)
ARGV[4]  reason            ARGV[5] agent id        ARGV[6] message id
ARGV[7]  now (ms)          ARGV[8] ledger retention after a terminal state, seconds

Returns  the dead-letter entry id, or false when the entry is no longer on the lane

Memory: runs when Redis is full (flags=allow-oom): it frees a lane entry and adds one of the same
size to the dead-letter stream, bounded by what was accepted before.
]]
--- @include entries
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #found == 0 then return false end
local id = redis.call('XADD', KEYS[3], '*', 'source_id', ARGV[2], 'reason', ARGV[4], 'lane', ARGV[1], 'agent', ARGV[5],
  'message_id', ARGV[6], 'fields', cjson.encode(fields_of(found[1][2])))
if ARGV[1] == 'push' then redis.call('XACK', KEYS[1], ARGV[3], ARGV[2]) end
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[1] == 'push' and redis.call('XLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[6], ARGV[5]) end
redis.call('INCR', KEYS[4])
if redis.call('HGET', KEYS[2], 'lane_id') == ARGV[2] then
  redis.call('HSET', KEYS[2], 'state', 'dead_lettered', 'dead_letter_id', id, 'closed_at', ARGV[7])
  redis.call('ZREM', KEYS[5], ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[8])
end
return id
