--[[
acquire_lease: takes a free shard lease (or extends our own) and issues a fencing token.

KEYS[1]  lease (string 'owner|fence', with a TTL)
KEYS[2]  fencing counter of the shard
ARGV[1]  owner id   ARGV[2] time to live, ms

Returns  the lease value 'owner|fence' held now, or false when another owner holds it
]]
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return current
  end
  return false
end
local fence = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. fence
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
