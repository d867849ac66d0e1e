-- lease: the fencing check every script that writes on a lease's behalf starts with.
-- Returns an error reply ('FENCED ...', which the store reports as LEASE_LOST) when the lease at
-- `key` no longer holds `value`, nil while it does. Use: local fenced = fenced_unless_held(...) if fenced then return fenced end
local function fenced_unless_held(key, value, what)
  if redis.call('GET', key) ~= value then
    return redis.error_reply('FENCED the ' .. what .. ' lease is no longer held by ' .. value)
  end
  return nil
end
