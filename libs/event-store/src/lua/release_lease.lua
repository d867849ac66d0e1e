--[[
release_lease: gives a lease up, only if the caller still holds exactly this value.

KEYS[1]  lease
ARGV[1]  lease value 'owner|fence'
Returns  1 when released, 0 when it was not held

Memory: runs when Redis is full without a flag: DEL frees memory.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
