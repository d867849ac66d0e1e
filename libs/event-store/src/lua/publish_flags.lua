--[[
publish_flags: publishes a new effective flag snapshot, with its audit entry, if the current
version is the one the publisher read (optimistic concurrency), then rings the change channel.

KEYS[1]  flag snapshot (string, JSON with a numeric `version`)
KEYS[2]  audit stream
ARGV[1]  expected current version (0 when none was published)
ARGV[2]  new snapshot JSON (its version must be expected + 1)
ARGV[3]  change channel
ARGV[4]  audit entry JSON
ARGV[5]  audit stream approximate max length

Returns  {'OK', newVersion, auditId} | {'CONFLICT', currentVersion}
]]
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = cjson.decode(current).version or 0 end
if tonumber(ARGV[1]) ~= version then
  return {'CONFLICT', version}
end
redis.call('SET', KEYS[1], ARGV[2])
local auditId = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'a', ARGV[4])
redis.call('PUBLISH', ARGV[3], tostring(version + 1))
return {'OK', version + 1, auditId}
