//! The Lua scripts the Redis store runs server-side (the lease's own are in
//! `lease.rs`): each does its reads and writes atomically, on keys of one
//! hash slot.

/// Writes an entry and/or releases a lease.
/// KEYS: entry, lease[, component generation, export generation].
/// ARGV: lease token ('' for none), events channel, "done" message,
///       TTL in ms (-1: no entry to write; 0: no TTL), entry bytes
///       [, component generation, export generation when not in KEYS].
pub(super) const WRITE_SCRIPT: &str = r"
local ttl = tonumber(ARGV[4])
if ttl >= 0 then
  local c, e
  if #KEYS == 4 then
    c = tonumber(redis.call('GET', KEYS[3]) or '0')
    e = tonumber(redis.call('GET', KEYS[4]) or '0')
  else
    c = tonumber(ARGV[6])
    e = tonumber(ARGV[7])
  end
  local expires = 0
  if ttl > 0 then
    local now = redis.call('TIME')
    expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + ttl
  end
  local value = struct.pack('<i8<i8<i8', c, e, expires) .. ARGV[5]
  if ttl > 0 then
    -- Kept past its expiry (as long again, at most 1 h) so a lookup can
    -- tell an expired entry from one never stored.
    redis.call('SET', KEYS[1], value, 'PX', ttl + math.min(ttl, 3600000))
  else
    redis.call('SET', KEYS[1], value)
  end
end
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[2]) == ARGV[1] then
    redis.call('DEL', KEYS[2])
  end
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return 1
";

/// Bumps the generation KEYS[1] (ARGV[1] = "incr") or overwrites the entry
/// KEYS[1] with the tombstone ARGV[4] for ARGV[5] ms (ARGV[1] =
/// "tombstone"), and publishes ARGV[3] on channel ARGV[2]. (A script,
/// because a cluster would route a pipeline's PUBLISH elsewhere.)
pub(super) const INVALIDATE_SCRIPT: &str = r"
if ARGV[1] == 'incr' then
  redis.call('INCR', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
";
