--[[
record_owner_feedback: an agent owner's satisfaction score for one agent, from the public progress
page. The latest answer per agent counts; the per-score counts move with it in the same step, so
the positive share is read without scanning the answers.

KEYS[1]  answers (hash: agent id → JSON {score, comment, at})
KEYS[2]  answer times (sorted set: agent id, score = at ms)
KEYS[3]  counts (hash: score "1".."5" → agents whose latest answer has it)
ARGV[1]  agent id
ARGV[2]  score, "1" to "5"
ARGV[3]  the answer's JSON
ARGV[4]  at (ms)
ARGV[5]  most agents with an answer kept

Returns  {'OK', previous score or ''} | {'FULL', ''} when ARGV[5] agents have answered and this one has not

Memory: not allow-oom: anonymous visitors write here, so a full Redis refuses them first.
]]
local previous = redis.call('HGET', KEYS[1], ARGV[1])
local previousScore = ''
if previous then
  previousScore = tostring(cjson.decode(previous).score)
elseif redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
  -- A full store keeps the answers it has: evicting the oldest would let a visitor who invents
  -- agent ids push the real owners' answers out.
  return {'FULL', ''}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
if previousScore ~= '' then redis.call('HINCRBY', KEYS[3], previousScore, -1) end
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return {'OK', previousScore}
