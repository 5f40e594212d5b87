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

import { NEXT_ID } from "./redis_epoch.ts";

/**
 * KEYS: list, counter, epoch, and outside a Cluster the old counter. ARGV:
 * channel, retention, the highest id the calling replica delivered, PUBLISH
 * or SPUBLISH, then for each message its fields as JSON without the opening
 * brace and its origin as a JSON string. Appends the batch under consecutive
 * ids and publishes it as one payload, its events one per line (a batch of
 * one is exactly the single event). Returns the first id.
 */
export const APPEND: string = NEXT_ID + `
local count = (#ARGV - 4) / 2
local first = next_id(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[3]))
if count > 1 then redis.call('INCRBY', KEYS[2], count - 1) end
if KEYS[4] then
  -- Older replicas still count in the old key during a rolling update.
  local old = tonumber(redis.call('GET', KEYS[4]) or '0')
  if old >= first then
    first = old + 1
    redis.call('SET', KEYS[2], first + count - 1)
  end
  if old > 0 then redis.call('SET', KEYS[4], first + count - 1) end
end
local entries, events = {}, {}
for i = 1, count do
  local id = first + i - 1
  local fields = ARGV[3 + 2 * i]
  entries[i] = '{"id":' .. id .. ',' .. fields
  events[i] = '{"type":"message","origin":' .. ARGV[4 + 2 * i] .. ',"id":' .. id .. ',' .. fields
end
-- RPUSH in pieces: unpack() is bounded by the Lua stack.
for i = 1, count, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(entries, i, math.min(i + 999, count)))
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call(ARGV[4], ARGV[1], table.concat(events, '\\n'))
return first
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
 * KEYS: list, counter, epoch. ARGV: first and last index. The counter, the
 * range and the epoch, read together; a missing key reads as ''.
 */
export const HISTORY: string = `
return {
  redis.call('GET', KEYS[2]) or '',
  redis.call('LRANGE', KEYS[1], ARGV[1], ARGV[2]),
  redis.call('GET', KEYS[3]) or '',
}
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
