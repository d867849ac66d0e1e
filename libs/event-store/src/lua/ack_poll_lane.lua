#!lua flags=allow-oom
--[[
ack_poll_lane: acknowledges every poll-lane entry up to and including a cursor: marks each message
delivered in the ledger, then trims exactly those entries. Entries after the cursor are never
touched, so a poll whose response was lost is answered again.

KEYS[1]  poll lane stream of the agent
KEYS[2]  mailbox hash of the agent (acked, last)
KEYS[3]  open-messages sorted set of the agent's shard
ARGV[1]  cursor (stream id)
ARGV[2]  now (ms)
ARGV[3]  ledger key prefix of the shard (the message id is appended)
ARGV[4]  ledger retention after a terminal state, seconds
ARGV[5]  at most this many entries per call (bounds the time the script holds Redis)

Returns  {'OK', ackedCount, ackedId, lastId}  lastId: the newest entry the lane issued (equal to
                                              ackedId when nothing waits after the cursor)
         {'PARTIAL', ackedCount, ackedId}  acknowledged up to ackedId only: call again
         {'EXPIRED', ackedId}  the cursor is older than the acknowledged position
         {'UNKNOWN', lastId}   the cursor is beyond anything this lane ever issued

Cost: per entry one HMGET, HSET and EXPIRE of its ledger record; per call the mailbox HMGET, one
XRANGE, one ZREM for all the entries, XTRIM and the mailbox HSET (issue 16: Redis work per message).

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): acknowledging frees the lane entries it trims. What it adds is bounded by what was accepted before.
]]
--- @include fields
--- @include entries
--- @include stream_ids

local state = redis.call('HMGET', KEYS[2], 'acked', 'last')
local acked = state[1] or '0-0'
local last = state[2] or '0-0'
local cursor = ARGV[1]
if id_less(cursor, acked) then
  return {'EXPIRED', acked}
end
if id_less(last, cursor) then
  return {'UNKNOWN', last}
end
if cursor == acked then
  return {'OK', 0, acked, last}
end

local entries = redis.call('XRANGE', KEYS[1], '(' .. acked, cursor, 'COUNT', ARGV[5])
local reached = cursor
local status = 'OK'
if #entries == tonumber(ARGV[5]) and entries[#entries][1] ~= cursor then
  reached = entries[#entries][1]
  status = 'PARTIAL'
end
local closed = {}
for _, entry in ipairs(entries) do
  local messageId = fields_of(entry[2])[LANE.messageId]
  if messageId then
    local ledger = ARGV[3] .. messageId
    -- answered, declined, cancelled, expired and abandoned are final: acknowledging only records the delivery time.
    local record = redis.call('HMGET', ledger, 'state', 'awaits_reply')
    local state = record[1]
    if state == 'routed' or state == 'accepted' then
      redis.call('HSET', ledger, 'state', 'delivered', 'delivered_at', ARGV[2])
      -- An `elicit` question stays open until its call ends (close_message.lua).
      if record[2] ~= '1' then
        closed[#closed + 1] = messageId
        redis.call('EXPIRE', ledger, ARGV[4])
      end
    elseif state then
      redis.call('HSET', ledger, 'delivered_at', ARGV[2])
    end
  end
end
if #closed > 0 then
  redis.call('ZREM', KEYS[3], unpack(closed))
end
redis.call('XTRIM', KEYS[1], 'MINID', id_after(reached))
redis.call('HSET', KEYS[2], 'acked', reached)
return {status, #entries, reached, last}
