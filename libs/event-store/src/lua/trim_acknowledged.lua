--[[
trim_acknowledged: trims a consumer-group stream up to, and never past, the oldest entry some
group still needs: the smallest pending (delivered, unacked) id, or the first entry not yet
delivered to the group. A stream without groups is left alone (nobody has read it yet).

KEYS[1]  stream
Returns  number of entries trimmed

Memory: runs when Redis is full without a flag: XTRIM frees memory.
]]
--- @include entries
--- @include stream_ids
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end

local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local safe
for _, flat in ipairs(groups) do
  local group = fields_of(flat)
  local candidate
  if group.pending > 0 then
    candidate = redis.call('XPENDING', KEYS[1], group.name)[2]
  else
    candidate = id_after(group['last-delivered-id'])
  end
  if safe == nil or id_less(candidate, safe) then safe = candidate end
end
return redis.call('XTRIM', KEYS[1], 'MINID', safe)
