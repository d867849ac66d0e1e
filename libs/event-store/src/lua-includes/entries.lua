-- entries: a stream entry's flat field list {name, value, name, value...} as a table.
local function fields_of(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
