--[[
renew_lease: extends a lease only if the caller still holds exactly this value.

KEYS[1]  lease
ARGV[1]  lease value 'owner|fence'   ARGV[2] time to live, ms
Returns  1 when renewed, 0 when the lease was lost

Memory: runs when Redis is full without a flag: PEXPIRE never grows memory.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
