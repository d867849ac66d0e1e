--[[
notice_claim: the leader claims one due notice of a channel before sending it. The claim has an
expiry (its due time becomes the claim's end): a leader that dies while sending leaves it to be
claimed again, by itself or its successor, once the claim has run out. Fenced by the controller
lease: only the leader sends. Each claim counts as an attempt (a send that never reported back
was one); a notice whose attempts are used up is recorded failed instead.

KEYS[1]  controller lease
KEYS[2]  the channel's due set (zset: '<milestone>|<owner>' → when due, ms)
KEYS[3]  the milestone's notices (hash)
KEYS[4]  the milestone's counts (hash)
ARGV[1]  lease value the claimer holds
ARGV[2]  due member '<milestone>|<owner>'
ARGV[3]  state field 's|<channel>|<owner>'
ARGV[4]  notice field 'n|<owner>'
ARGV[5]  now (ms)
ARGV[6]  claim expiry (ms)
ARGV[7]  claim token (settle_notice must present it)
ARGV[8]  most attempts
ARGV[9]  channel

Returns  {'claimed', state JSON, notice JSON} | {'exhausted', state JSON} (recorded failed) |
         {'later'} (not due: a retry's backoff or a live claim) | {'gone'} (forgotten or settled; dropped from the due set)
Errors   'FENCED ...' when the lease is not held by ARGV[1]
]]
--- @include lease
local fenced = fenced_unless_held(KEYS[1], ARGV[1], 'controller')
if fenced then return fenced end
local now = tonumber(ARGV[5])
local raw = redis.call('HGET', KEYS[3], ARGV[3])
local notice = redis.call('HGET', KEYS[3], ARGV[4])
if not raw or not notice then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {'gone'}
end
local record = cjson.decode(raw)
if record.state ~= 'pending' and record.state ~= 'sending' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {'gone'}
end
if (record.state == 'pending' and record.dueAt > now) or (record.state == 'sending' and (record.claimUntil or 0) > now) then
  return {'later'}
end
local previous = record.state
record.updatedAt = now
if record.attempts >= tonumber(ARGV[8]) then
  record.state = 'failed'
  record.lastError = 'gave up after ' .. record.attempts .. ' attempts; the last one did not report back (' .. (record.lastError or 'no error recorded') .. ')'
  record.token = nil
  record.claimUntil = nil
  redis.call('HSET', KEYS[3], ARGV[3], cjson.encode(record))
  redis.call('HINCRBY', KEYS[4], ARGV[9] .. '|' .. previous, -1)
  redis.call('HINCRBY', KEYS[4], ARGV[9] .. '|failed', 1)
  redis.call('ZREM', KEYS[2], ARGV[2])
  return {'exhausted', cjson.encode(record)}
end
record.state = 'sending'
record.attempts = record.attempts + 1
record.token = ARGV[7]
record.claimUntil = tonumber(ARGV[6])
local encoded = cjson.encode(record)
redis.call('HSET', KEYS[3], ARGV[3], encoded)
if previous ~= 'sending' then
  redis.call('HINCRBY', KEYS[4], ARGV[9] .. '|' .. previous, -1)
  redis.call('HINCRBY', KEYS[4], ARGV[9] .. '|sending', 1)
end
redis.call('ZADD', KEYS[2], record.claimUntil, ARGV[2])
return {'claimed', encoded, notice}
