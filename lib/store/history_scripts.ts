/**
 * The Lua scripts of the Redis store (`redis_store.ts`), each run atomically
 * on the node holding the history, so id order, list order and publish order
 * stay one. Every key a script touches is passed in KEYS and, in a Cluster,
 * shares the history's hash slot.
 *
 * This module holds text only; it runs nothing.
 *
 * @module
 */

/**
 * KEYS: list, counter, and outside a Cluster the old counter. ARGV: the
 * entry's fields as JSON without the opening brace, channel, retention,
 * origin as a JSON string, PUBLISH or SPUBLISH.
 */
export const APPEND: string = `
local id = redis.call('INCR', KEYS[2])
if KEYS[3] then
  -- Older replicas still count in the old key during a rolling update.
  local old = tonumber(redis.call('GET', KEYS[3]) or '0')
  if old >= id then
    id = old + 1
    redis.call('SET', KEYS[2], id)
  end
  if old > 0 then redis.call('SET', KEYS[3], id) end
end
if id == 1 then
  -- A lost or new counter must never reissue ids still in the list.
  local last = redis.call('LINDEX', KEYS[1], -1)
  if last then
    local ok, entry = pcall(cjson.decode, last)
    if ok and type(entry) == 'table' and type(entry.id) == 'number' and entry.id >= id then
      id = entry.id + 1
      redis.call('SET', KEYS[2], id)
    end
  end
end
redis.call('RPUSH', KEYS[1], '{"id":' .. id .. ',' .. ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call(ARGV[5], ARGV[2], '{"type":"message","origin":' .. ARGV[4] .. ',"id":' .. id .. ',' .. ARGV[1])
return id
`;

/**
 * KEYS: old counter, counter (one node). Keeps the higher count, once.
 */
export const MIGRATE: string = `
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
if tonumber(old) > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], old)
end
redis.call('DEL', KEYS[1])
return 1
`;

/**
 * KEYS: counter. ARGV: a count read from the old counter. Keeps the higher.
 */
export const RAISE: string = `
if tonumber(ARGV[1]) > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], ARGV[1])
end
`;

/**
 * KEYS: list, counter. ARGV: first and last index. The counter and a range.
 */
export const HISTORY: string = `
return {redis.call('GET', KEYS[2]) or '0', redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2])}
`;

/**
 * KEYS: list, counter. ARGV: the last id already delivered. Returns the
 * counter and every entry newer than that id (ids are consecutive at the tail).
 */
export const SINCE: string = `
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local count = seq - tonumber(ARGV[1])
if count <= 0 then return {seq, {}} end
return {seq, redis.call('LRANGE', KEYS[1], -count, -1)}
`;
