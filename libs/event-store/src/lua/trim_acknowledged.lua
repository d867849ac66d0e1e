--[[
trim_acknowledged: trims a consumer-group stream up to, and never past, the oldest entry some
group still needs: the smallest pending (delivered, unacked) id, or the first entry not yet
delivered to the group. A stream without groups is left alone (nobody has read it yet).

KEYS[1]  stream
Returns  number of entries trimmed

Memory: runs when Redis is full without a flag: XTRIM frees memory.
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function parse(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am ~= bm then return am < bm end
  return as < bs
end

local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local safe
for _, group in ipairs(groups) do
  local name, pending, lastDelivered
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1]
    elseif group[i] == 'pending' then pending = group[i + 1]
    elseif group[i] == 'last-delivered-id' then lastDelivered = group[i + 1] end
  end
  local candidate
  if pending > 0 then
    candidate = redis.call('XPENDING', KEYS[1], name)[2]
  else
    local ms, seq = parse(lastDelivered)
    candidate = string.format('%d-%d', ms, seq + 1)
  end
  if safe == nil or less(candidate, safe) then safe = candidate end
end
return redis.call('XTRIM', KEYS[1], 'MINID', safe)
