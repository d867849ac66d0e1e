--[[
notice_settle: records how a claimed send ended: sent, skipped (the channel cannot reach this
owner), failed (for good), or retry (pending again, due after the backoff).

Fenced by the claim, not by the leader lease: only the claim's holder settles it, and only while
no one claimed it again after it expired. A leader that lost its lease after a send went through
still records it as sent, so its successor does not send it a second time (decision 0021).

KEYS[1]  the channel's due set
KEYS[2]  the milestone's notices (hash)
KEYS[3]  the milestone's counts (hash)
ARGV[1]  due member '<milestone>|<owner>'
ARGV[2]  state field 's|<channel>|<owner>'
ARGV[3]  claim token (from notice_claim)
ARGV[4]  outcome: 'sent' | 'skipped' | 'failed' | 'retry'
ARGV[5]  now (ms)
ARGV[6]  retry: when due again (ms)
ARGV[7]  error or reason ('' for none)
ARGV[8]  channel
ARGV[9]  retention (s)

Returns  {'OK', open}: the channel's notices of this milestone still pending or sending |
         {'STALE'}: the claim is no longer this caller's (expired and claimed again, or settled)
]]
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if not raw then return {'STALE'} end
local record = cjson.decode(raw)
if record.state ~= 'sending' or record.token ~= ARGV[3] then return {'STALE'} end
local now, outcome = tonumber(ARGV[5]), ARGV[4]
record.updatedAt = now
record.token = nil
record.claimUntil = nil
if outcome == 'sent' then
  record.sentAt = now
elseif ARGV[7] ~= '' then
  if outcome == 'skipped' then record.detail = ARGV[7] else record.lastError = ARGV[7] end
end
if outcome == 'retry' then
  record.state = 'pending'
  record.dueAt = tonumber(ARGV[6])
  redis.call('ZADD', KEYS[1], record.dueAt, ARGV[1])
else
  record.state = outcome
  redis.call('ZREM', KEYS[1], ARGV[1])
end
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(record))
redis.call('HINCRBY', KEYS[3], ARGV[8] .. '|sending', -1)
redis.call('HINCRBY', KEYS[3], ARGV[8] .. '|' .. record.state, 1)
redis.call('EXPIRE', KEYS[2], ARGV[9])
redis.call('EXPIRE', KEYS[3], ARGV[9])
local open = tonumber(redis.call('HGET', KEYS[3], ARGV[8] .. '|pending') or '0') + tonumber(redis.call('HGET', KEYS[3], ARGV[8] .. '|sending') or '0')
return {'OK', open}
