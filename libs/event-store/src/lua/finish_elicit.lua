#!lua flags=allow-oom
--[[
finish_elicit: ends a pending `elicit` call. If no answer arrived, the call is marked expired (a
late reply is then delivered to the sender as an ordinary message instead); otherwise the answer
is returned. Runs in the sender's slot, where the router records answers.

KEYS[1]  elicit wait hash (state, answer)
ARGV[1]  how long to keep the record afterwards, ms

Returns  {'EXPIRED'} | {'ANSWERED', answerJson} | {'MISSING'}

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): an elicit that ended must record it, or its caller waits for nothing. What it adds is bounded by what was accepted before.
]]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'MISSING'} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if state == 'waiting' then
  redis.call('HSET', KEYS[1], 'state', 'expired')
  return {'EXPIRED'}
end
if state == 'answered' then
  return {'ANSWERED', redis.call('HGET', KEYS[1], 'answer')}
end
return {'EXPIRED'}
