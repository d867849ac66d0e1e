#!lua flags=allow-oom
--[[
acquire_lease: takes a free lease (or extends our own) and issues a fencing token.

KEYS[1]  lease (string 'owner|fence', with a TTL)
KEYS[2]  fencing counter of the lease
ARGV[1]  owner id   ARGV[2] time to live, ms
ARGV[3]  an owner prefix the caller may preempt, or '' for none. A push lease held by a 2026-07-28
         round (owner 'round:...') only waits for the agent's retry, and no process holds it, so a
         rollback drain takes it over; the fresh fence refuses the round's later writes.

Returns  the lease value 'owner|fence' held now, or false when another owner holds it

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): routers and deliverers must keep their leases, or nothing already accepted moves. What it adds is bounded by what was accepted before.
]]
local current = redis.call('GET', KEYS[1])
if current then
  if string.sub(current, 1, #ARGV[1] + 1) == ARGV[1] .. '|' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return current
  end
  local preempt = ARGV[3] or ''
  if preempt == '' or string.sub(current, 1, #preempt) ~= preempt then
    return false
  end
end
local fence = redis.call('INCR', KEYS[2])
local value = ARGV[1] .. '|' .. fence
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
