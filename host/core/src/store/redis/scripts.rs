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
/// "tombstone"), and publishes ARGV[3] on channel ARGV[2]. With "incr",
/// KEYS[2] is the component's set of indexed exports, ARGV[6..] the exports
/// whose index goes, and KEYS[3..] their index keys (dropped). (A script,
/// because a cluster would route a pipeline's PUBLISH elsewhere.) Returns
/// whether the tombstone replaced an entry.
pub(super) const INVALIDATE_SCRIPT: &str = r"
local replaced = 0
if ARGV[1] == 'incr' then
  redis.call('INCR', KEYS[1])
  for i = 6, #ARGV do
    redis.call('SREM', KEYS[2], ARGV[i])
  end
  for i = 3, #KEYS do
    redis.call('UNLINK', KEYS[i])
  end
else
  if redis.call('STRLEN', KEYS[1]) > #ARGV[4] then
    replaced = 1
  end
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return replaced
";

/// Indexes an entry for listing (see `index.rs`) and returns the current
/// generations of its component and export.
/// KEYS: indexed exports, entries by expiry, stored-at times, hits,
///       component generation, export generation.
/// ARGV: export, entry key, TTL in ms (0: none).
/// Also drops up to 32 entries that expired from the index.
pub(super) const INDEX_SCRIPT: &str = r"
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms, 'LIMIT', 0, 32)
if #expired > 0 then
  redis.call('ZREM', KEYS[2], unpack(expired))
  redis.call('HDEL', KEYS[3], unpack(expired))
  redis.call('HDEL', KEYS[4], unpack(expired))
end
local ttl = tonumber(ARGV[3])
local expires = '+inf'
if ttl > 0 then
  expires = now_ms + ttl
end
redis.call('ZADD', KEYS[2], expires, ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], now_ms)
redis.call('HDEL', KEYS[4], ARGV[2])
redis.call('SADD', KEYS[1], ARGV[1])
return {tonumber(redis.call('GET', KEYS[5]) or '0'), tonumber(redis.call('GET', KEYS[6]) or '0')}
";

/// Reads a batch of an export's index: ZSCAN from cursor ARGV[1] with
/// COUNT ARGV[2].
/// KEYS: entries by expiry, stored-at times, hits, component generation,
///       export generation.
/// Returns: next cursor, {now in Unix ms, component generation, export
/// generation}, entry keys, their stored-at times, their hits.
pub(super) const LIST_SCRIPT: &str = r"
local scan = redis.call('ZSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local clock = {now_ms, tonumber(redis.call('GET', KEYS[4]) or '0'),
  tonumber(redis.call('GET', KEYS[5]) or '0')}
local keys, stored, hits = {}, {}, {}
for i = 1, #scan[2], 2 do
  local member = scan[2][i]
  keys[#keys + 1] = member
  stored[#stored + 1] = redis.call('HGET', KEYS[2], member) or '0'
  hits[#hits + 1] = redis.call('HGET', KEYS[3], member) or '0'
end
return {scan[1], clock, keys, stored, hits}
";

/// Adds hits to indexed entries: ARGV holds entry key, count pairs.
/// KEYS: entries by expiry, hits. (An entry no longer indexed is skipped.)
pub(super) const HITS_SCRIPT: &str = r"
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
  end
end
return 1
";
