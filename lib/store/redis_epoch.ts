/**
 * The history's epoch in Redis: a random id in the key `{K}:epoch` (K = the
 * history key, as hash tag, so it shares the list's Cluster slot), made with
 * the id counter and replaced whenever the history is lost, so that a client
 * resuming with ids of a lost history is told so instead of resuming
 * silently across the gap.
 *
 * The history counts as lost when the counter is gone (`FLUSHALL`, a deleted
 * key) or lower than an id still in the list or already delivered by this
 * replica (a failover to a replica that had not received the newest writes).
 * Both the append script ({@linkcode NEXT_ID}) and every join
 * ({@linkcode ENSURE_EPOCH}) check it. After such a loss the counter is
 * moved past every id known, so ids keep increasing for every replica.
 *
 * This module holds the Lua and the key name; `redis_store.ts` runs them.
 *
 * @module
 */

import { randomId } from "../util/random_id.ts";

/** The epoch key of history key `key`. */
export function epochKey(key: string): string {
  return `{${key}}:epoch`;
}

/** A new epoch: 128 random bits. */
export function newEpoch(): string {
  return randomId(16);
}

// The id of the newest of our entries in the list, 0 when none.
const LAST_ID = `
local function last_id(list)
  local last = redis.call('LINDEX', list, -1)
  if last then
    local ok, entry = pcall(cjson.decode, last)
    if ok and type(entry) == 'table' and type(entry.id) == 'number' then return entry.id end
  end
  return 0
end
`;

/**
 * Lua defining `next_id(list, counter, epoch, seen)`: the next message id.
 * A counter that was missing, or is not above `seen` (the highest id the
 * calling replica delivered), has lost history: it moves past `seen` and the
 * list's newest id, so that no id is issued twice, and the epoch is deleted,
 * so that the next join makes a new one.
 */
export const NEXT_ID: string = LAST_ID + `
local function next_id(list, counter, epoch, seen)
  local existed = redis.call('EXISTS', counter) == 1
  local id = redis.call('INCR', counter)
  if existed and id > seen then return id end
  local floor = math.max(seen, last_id(list))
  if id <= floor then
    id = floor + 1
    redis.call('SET', counter, id)
  end
  redis.call('DEL', epoch)
  return id
end
`;

/**
 * KEYS: list, counter, epoch. ARGV: a new epoch, the highest id the calling
 * replica delivered. Returns the epoch, made (with the counter, if missing)
 * or replaced when the history was lost.
 */
export const ENSURE_EPOCH: string = LAST_ID + `
local epoch = redis.call('GET', KEYS[3])
local counter = redis.call('GET', KEYS[2])
local seq = tonumber(counter or '0')
local floor = math.max(tonumber(ARGV[2]), last_id(KEYS[1]))
if epoch and counter and seq >= floor then return epoch end
if not counter or seq < floor then redis.call('SET', KEYS[2], math.max(seq, floor)) end
redis.call('SET', KEYS[3], ARGV[1])
return ARGV[1]
`;
