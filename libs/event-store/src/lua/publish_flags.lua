#!lua flags=allow-oom
--[[
publish_flags: publishes a new effective flag snapshot, with its audit entry, if the current
version is the one the publisher read (optimistic concurrency) and, when the publisher is the
controller, only while it still holds the controller lease (a deposed leader writes nothing).
Then rings the change channel.

The controller also hands in its status as it is with this publication (handled alerts, the
rollback in force, the stage): it is stored in the same step, so a leader that loses its lease
right after publishing cannot leave a successor a status older than the flags in force — the
successor would otherwise publish the older flags again (undoing a rollback) and act on the same
alert a second time. Decision 0006.

KEYS[1]  flag snapshot (string, JSON with a numeric `version`)
KEYS[2]  audit stream
KEYS[3]  controller lease (checked only when ARGV[6] is not empty)
KEYS[4]  controller status (string, JSON; written only when ARGV[7] is not empty)
ARGV[1]  expected current version (0 when none was published)
ARGV[2]  new snapshot JSON (its version must be expected + 1)
ARGV[3]  change channel
ARGV[4]  audit entry JSON
ARGV[5]  audit stream approximate max length
ARGV[6]  controller lease value the publisher holds, or '' for an unfenced publisher (bridgectl, tests)
ARGV[7]  the controller's status JSON for this publication (its snapshotVersion = the new version), or ''

Returns  {'OK', newVersion, auditId} | {'CONFLICT', currentVersion} | {'FENCED', currentVersion}

Memory: runs when Redis is full (flags=allow-oom; Redis refuses new sends first, at the
high-water mark): a rollback must be published when Redis is full, more than ever. What it adds is bounded by what was accepted before.
]]
--- @include fields
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = cjson.decode(current).version or 0 end
if ARGV[6] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[6] then
  return {'FENCED', version}
end
if tonumber(ARGV[1]) ~= version then
  return {'CONFLICT', version}
end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[7] ~= '' then redis.call('SET', KEYS[4], ARGV[7]) end
local auditId = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', LOG.audit, ARGV[4])
redis.call('PUBLISH', ARGV[3], tostring(version + 1))
return {'OK', version + 1, auditId}
