-- stream_ids: stream ids '<ms>-<seq>' compared and stepped without losing precision to floats
-- (both parts stay below 2^53 for any id Redis hands out in practice).
local function parse_id(id)
  local dash = string.find(id, '-', 1, true)
  return tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
end
local function id_less(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  if am ~= bm then return am < bm end
  return as < bs
end
-- The id right after `id`: the smallest id XTRIM MINID keeps when everything up to `id` goes.
local function id_after(id)
  local ms, seq = parse_id(id)
  return string.format('%d-%d', ms, seq + 1)
end
