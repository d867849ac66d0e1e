--[[
notice_enqueue: records a milestone's owner notices in the notification ledger, once per owner per
channel. A notice already recorded (by this leader, an earlier one, or an earlier call) is left as
it is — that is what makes the deprecation schedule's "notify the owners" step safe to run again.
Fenced by the controller lease: a deposed leader records nothing.

KEYS[1]      controller lease (string 'owner|fence')
KEYS[2]      milestone index (zset: milestone → first recorded at, ms)
KEYS[3]      the milestone's notices (hash: 'n|<owner>' → notice JSON, 's|<channel>|<owner>' → state JSON)
KEYS[4]      the milestone's counts (hash: 'owners', '<channel>|<state>' → count)
KEYS[5..]    the due set of each channel (zset: '<milestone>|<owner>' → when due, ms), in ARGV channel order
ARGV[1]      lease value the writer holds
ARGV[2]      milestone
ARGV[3]      now (ms)
ARGV[4]      retention (s): the milestone's keys expire this long after its last write
ARGV[5]      most owners a milestone may hold
ARGV[6]      most milestones kept (the oldest beyond it are forgotten)
ARGV[7]      channel count C, then C channel names
then, per owner: owner name, notice JSON, and per channel: initial state ('pending' | 'skipped') and its state JSON

Returns  {queued, already, skipped} for each channel in order, then the forgotten milestones: the milestones to delete (older than
         the retention or beyond the cap; their keys are deleted by the caller, their due entries
         are dropped by the next claim that meets them)
Errors   'FENCED ...' when the lease is not held by ARGV[1]; 'LIMIT ...' when the owners would exceed ARGV[5]
]]
--- @include lease
local fenced = fenced_unless_held(KEYS[1], ARGV[1], 'controller')
if fenced then return fenced end
local milestone, now, retention = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local max_owners, max_milestones = tonumber(ARGV[5]), tonumber(ARGV[6])
local channel_count = tonumber(ARGV[7])
local channels = {}
for c = 1, channel_count do channels[c] = ARGV[7 + c] end
local first = 8 + channel_count
local stride = 2 + 2 * channel_count

-- The cap is checked before anything is written: a batch is recorded whole or not at all.
local new_owners = 0
for i = first, #ARGV, stride do
  if redis.call('HEXISTS', KEYS[3], 'n|' .. ARGV[i]) == 0 then new_owners = new_owners + 1 end
end
local owners = tonumber(redis.call('HGET', KEYS[4], 'owners') or '0')
if owners + new_owners > max_owners then
  return redis.error_reply('LIMIT milestone ' .. milestone .. ' would notify ' .. (owners + new_owners) .. ' owners, more than the limit of ' .. max_owners)
end

redis.call('ZADD', KEYS[2], 'NX', now, milestone)
local reply = {}
for c = 1, channel_count * 3 do reply[c] = 0 end
for i = first, #ARGV, stride do
  local owner = ARGV[i]
  if redis.call('HSETNX', KEYS[3], 'n|' .. owner, ARGV[i + 1]) == 1 then redis.call('HINCRBY', KEYS[4], 'owners', 1) end
  for c = 1, channel_count do
    local state, state_json = ARGV[i + 2 * c], ARGV[i + 2 * c + 1]
    if redis.call('HSETNX', KEYS[3], 's|' .. channels[c] .. '|' .. owner, state_json) == 1 then
      redis.call('HINCRBY', KEYS[4], channels[c] .. '|' .. state, 1)
      if state == 'pending' then
        redis.call('ZADD', KEYS[4 + c], now, milestone .. '|' .. owner)
        reply[3 * c - 2] = reply[3 * c - 2] + 1
      else
        reply[3 * c] = reply[3 * c] + 1
      end
    else
      reply[3 * c - 1] = reply[3 * c - 1] + 1
    end
  end
end
redis.call('EXPIRE', KEYS[3], retention)
redis.call('EXPIRE', KEYS[4], retention)

-- Old milestones go: past the retention, or beyond the cap (oldest first); never this one.
local forget = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - retention * 1000))
local beyond = redis.call('ZCARD', KEYS[2]) - #forget - max_milestones
if beyond > 0 then
  for _, name in ipairs(redis.call('ZRANGE', KEYS[2], #forget, #forget + beyond - 1)) do forget[#forget + 1] = name end
end
for _, name in ipairs(forget) do
  if name ~= milestone then
    redis.call('ZREM', KEYS[2], name)
    reply[#reply + 1] = name
  end
end
return reply
