#!lua flags=allow-oom
--[[
dead_letter: moves an events entry that cannot be parsed out of the way (so it cannot block its
shard forever) into the shard's dead-letter stream, and acks it. Nothing is deleted: operators
inspect the dead-letter stream.

KEYS[1]  events stream of the shard
KEYS[2]  shard lease
KEYS[3]  dead-letter stream of the shard
ARGV[1]  consumer group   ARGV[2] events entry id   ARGV[3] lease value   ARGV[4] reason
ARGV[5]  the entry's fields (JSON)

Returns  dead-letter entry id. Errors 'FENCED ...' when the lease is not held.

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): an entry that cannot be routed must leave the events stream for it to be trimmed. What it adds is bounded by what was accepted before.
]]
--- @include lease
local fenced = fenced_unless_held(KEYS[2], ARGV[3], 'shard')
if fenced then return fenced end
local id = redis.call('XADD', KEYS[3], '*', 'source_id', ARGV[2], 'reason', ARGV[4], 'fields', ARGV[5])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return id
