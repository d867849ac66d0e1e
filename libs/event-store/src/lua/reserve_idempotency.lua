--[[
reserve_idempotency: binds a sender's idempotency key to one message id and content fingerprint.

KEYS[1]  idempotency record (hash: id, fp) in the sender's slot
ARGV[1]  candidate message id (used when the key is new)
ARGV[2]  content fingerprint (sha256 of recipient, content, metadata, in_reply_to, kind)
ARGV[3]  time to live of the record, ms

Returns  {'NEW', id}       the key was free; it is now bound to the candidate id
         {'REPLAY', id}    the key was bound to the same content: reuse that message id
         {'CONFLICT', id}  the key was bound to different content

Memory: refused when Redis is full (no allow-oom): its only write fails, nothing is reserved.
]]
local existing = redis.call('HMGET', KEYS[1], 'id', 'fp')
if existing[1] then
  if existing[2] == ARGV[2] then
    return {'REPLAY', existing[1]}
  end
  return {'CONFLICT', existing[1]}
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'fp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {'NEW', ARGV[1]}
