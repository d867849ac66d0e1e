#!lua flags=allow-oom
--[[
fail_push: hands a message whose push could not complete (no session, no capability, transport
error, no answer in time, an answer that does not match the schema) back to the router: the
push-lane entry is acknowledged and removed, and a `delivery.failed` event carrying its payloads is
appended to the shard's events stream in the same step, so the message is always in exactly one
place.

KEYS[1]  push lane stream of the agent
KEYS[2]  push lease of the agent
KEYS[3]  events stream of the agent's shard
KEYS[4]  set of agents with a non-empty push lane (shard)
ARGV[1]  consumer group   ARGV[2] push-lane entry id   ARGV[3] push lease value
ARGV[4]  reason           ARGV[5] doorbell channel     ARGV[6] agent id

Returns  the events entry id, or false when the entry was already handed back or settled
Errors   'FENCED ...' when the caller no longer holds the push lease

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): a failed push goes to the poll lane instead, so it is still delivered. What it adds is bounded by what was accepted before.
]]
--- @include fields
--- @include lease
--- @include entries
local fenced = fenced_unless_held(KEYS[2], ARGV[3], 'push')
if fenced then return fenced end
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #found == 0 then return false end
local f = fields_of(found[1][2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('XLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[4], ARGV[6]) end
local id = redis.call('XADD', KEYS[3], '*', EVENT.type, 'delivery.failed', EVENT.messageId, f[LANE.messageId],
  EVENT.target, ARGV[6], EVENT.reason, ARGV[4], EVENT.failedLaneEntryId, ARGV[2],
  EVENT.pushPayload, f[LANE.payload], EVENT.pollPayload, f[LANE.pollPayload], EVENT.checksum, f[LANE.checksum] or '')
redis.call('PUBLISH', ARGV[5], 'events')
return id
