#!lua flags=allow-oom
--[[
take_round: hands a 2026-07-28 agent's push lane out as one round, in one step: takes the free push
lease (a round never shares or extends one), moves every pending entry of the lane's group to the
round consumer (the lease makes it the only consumer: the previous holder is dead or fenced; the
consumers that own nothing then are deleted), and
reads up to COUNT entries, the pending ones (redeliveries) first, then new ones. An empty lane takes
no lease. Decision 0009.

KEYS[1]  push lease (string 'owner|fence', with a TTL)
KEYS[2]  fencing counter of the push lease
KEYS[3]  push lane stream of the agent
ARGV[1]  lease owner ('round:...')   ARGV[2] lease time to live, ms
ARGV[3]  consumer group              ARGV[4] round consumer name
ARGV[5]  at most this many entries

Returns  'EMPTY' when the lane is empty, 'HELD' when another owner holds the lease, otherwise
         {lease value, pending entries, new entries} (entries as XREADGROUP returns them)

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): handing out a round is how 2026-07-28 agents receive (and then settle) what is waiting. What it adds is bounded by what was accepted before.
]]
--- @include entries
if redis.call('XLEN', KEYS[3]) == 0 then return 'EMPTY' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'HELD' end
local fence = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. fence
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
-- BUSYGROUP (the group exists) is the usual case, not an error.
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[3], ARGV[3], '0', 'MKSTREAM')
local start = '0-0'
repeat
  start = redis.call('XAUTOCLAIM', KEYS[3], ARGV[3], ARGV[4], 0, start, 'COUNT', 100, 'JUSTID')[1]
until start == '0-0'
-- Earlier consumers (a session's deliverer, replicas gone) own nothing now: forget them, so
-- reconnects do not pile consumers up in Redis.
for _, flat in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[3], ARGV[3])) do
  local consumer = fields_of(flat)
  if consumer.name ~= ARGV[4] and consumer.pending == 0 then redis.call('XGROUP', 'DELCONSUMER', KEYS[3], ARGV[3], consumer.name) end
end
local count = tonumber(ARGV[5])
local pending = {}
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[3], ARGV[4], 'COUNT', count, 'STREAMS', KEYS[3], '0')
if reply then pending = reply[1][2] end
local fresh = {}
if #pending < count then
  reply = redis.call('XREADGROUP', 'GROUP', ARGV[3], ARGV[4], 'COUNT', count - #pending, 'STREAMS', KEYS[3], '>')
  if reply then fresh = reply[1][2] end
end
return {value, pending, fresh}
