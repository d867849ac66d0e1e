#!lua flags=allow-oom
--[[
fenced_write: a control-plane write made only while the writer holds the controller lease, so a
controller that lost leadership (paused process, partition) cannot overwrite its successor.

KEYS[1]  controller lease (string 'owner|fence')
KEYS[2]  target key
ARGV[1]  lease value the writer holds
ARGV[2]  operation: 'set' (KEYS[2] = ARGV[3]) | 'xadd' (append field 'a' = ARGV[3], MAXLEN ~ ARGV[4])
ARGV[3]  value
ARGV[4]  approximate max length (xadd only)

Returns  the stream id (xadd) or 'OK' (set)
Errors   'FENCED ...' when the lease is not held by ARGV[1]

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): the controller's audit trail and status must be written during an incident. What it adds is bounded by what was accepted before.
]]
--- @include fields
--- @include lease
local fenced = fenced_unless_held(KEYS[1], ARGV[1], 'controller')
if fenced then return fenced end
if ARGV[2] == 'set' then
  redis.call('SET', KEYS[2], ARGV[3])
  return 'OK'
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', LOG.audit, ARGV[3])
