/**
 * Presence shared by every replica through Redis: the contract of
 * `presence.ts` kept in two keys changed together by small Lua scripts.
 *
 * Redis layout, for key `P` (e.g. `chat_history:presence`):
 *
 * | key        | type       | content                                                     |
 * | ---------- | ---------- | ----------------------------------------------------------- |
 * | `P`        | sorted set | member: folded name; score: expiry, Redis time in ms        |
 * | `P:owners` | hash       | folded name -> `{"owner":"<connection id>","name":"Alice"}` |

A claim made with a resume token also holds the token's hash in its hash
value (`"token":"<hex>"`); the takeover script compares it with the hash of
the token presented and moves the claim in the same step.
 *
 * The scripts read the clock with Redis `TIME`, so replicas whose clocks
 * disagree cannot expire each other's claims early. Every script first
 * deletes the claims that have expired.
 *
 * This module does not decide what a client is told; failures are
 * `StoreUnavailableError` (`store.ts`), within a deadline, never a hang.
 *
 * @module
 */

import type { Logger } from "../ops/log.ts";
import { type Claim, foldName, type Presence, sortNames, type TakeOverResult } from "./presence.ts";
import { RedisCalls, type RedisConfig, RedisLink } from "./redis_connection.ts";

/** Options for {@linkcode RedisPresence.connect}. */
export interface RedisPresenceOptions {
  redis: RedisConfig;
  /** Name of the sorted set; the hash is `<key>:owners`. E.g. `chat_history:presence`. */
  key: string;
  /** Milliseconds a claim lives without a refresh. */
  ttlMs: number;
  logger: Logger;
  /** Longest wait for one Redis command, in milliseconds. Defaults to 5 s. */
  commandTimeoutMs?: number;
}

// Shared by every script. KEYS: sorted set, hash.
const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function ms(value)
  return string.format('%.0f', value)
end
-- Deletes expired claims, in batches that stay under Lua's unpack() limit.
local function sweep(now)
  while true do
    local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ms(now), 'LIMIT', 0, 500)
    if #expired == 0 then return end
    redis.call('ZREM', KEYS[1], unpack(expired))
    redis.call('HDEL', KEYS[2], unpack(expired))
  end
end
-- The owner holding a folded name and its token's hash, or nil. The sorted
-- set decides whether a claim exists; a hash entry without it, or not in our
-- format, holds nothing.
local function holder(member)
  if not redis.call('ZSCORE', KEYS[1], member) then return nil end
  local raw = redis.call('HGET', KEYS[2], member)
  if not raw then return nil end
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' and type(value.owner) == 'string' then
    return value.owner, value.token
  end
  return nil
end
`;

// ARGV: folded name, owner, hash value, ttl. Returns 1 if claimed.
const CLAIM = PRELUDE + `
local now = now_ms()
sweep(now)
local current = holder(ARGV[1])
if current ~= nil and current ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], ms(now + tonumber(ARGV[4])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
`;

// ARGV: folded name, owner, hash value, ttl, presented token hash.
// Returns 1 if claimed, 2 if taken back from another owner, 0 if held.
const TAKE_OVER = PRELUDE + `
local now = now_ms()
sweep(now)
local current, token = holder(ARGV[1])
local result = 1
if current ~= nil and current ~= ARGV[2] then
  if token ~= ARGV[5] then return 0 end
  result = 2
end
redis.call('ZADD', KEYS[1], ms(now + tonumber(ARGV[4])), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return result
`;

// ARGV: folded name, owner.
const RELEASE = PRELUDE + `
if holder(ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
`;

// ARGV: ttl, then (folded name, owner, hash value) per claim. Returns the
// 0-based positions of the claims someone else holds.
const REFRESH = PRELUDE + `
local now = now_ms()
sweep(now)
local expires = ms(now + tonumber(ARGV[1]))
local lost = {}
for i = 2, #ARGV, 3 do
  local current = holder(ARGV[i])
  if current == nil then
    redis.call('ZADD', KEYS[1], expires, ARGV[i])
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
  elseif current == ARGV[i + 1] then
    redis.call('ZADD', KEYS[1], expires, ARGV[i])
  else
    lost[#lost + 1] = (i - 2) / 3
  end
end
return lost
`;

// Returns folded name, hash value ('' if missing) pairs, flattened.
const LIST = PRELUDE + `
sweep(now_ms())
local out = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = member
  out[#out + 1] = redis.call('HGET', KEYS[2], member) or ''
end
return out
`;

/** Claims refreshed per script run, so one run never blocks Redis for long. */
const REFRESH_BATCH = 500;

/**
 * Presence shared by every replica through Redis. Create it with
 * {@linkcode RedisPresence.connect}; refresh the claims of this replica's
 * users every `ttlMs / 3` or so, so that one missed refresh loses nothing.
 *
 * @example
 * ```ts
 * const presence = await RedisPresence.connect({
 *   redis: { url: "redis://127.0.0.1:6379" },
 *   key: "chat_history:presence",
 *   ttlMs: 30_000,
 *   logger,
 * });
 * if (!(await presence.claim("alice", connectionId))) {
 *   // "! name taken"
 * }
 * ```
 */
export class RedisPresence implements Presence {
  readonly #link: RedisLink;
  readonly #options: RedisPresenceOptions;
  readonly #keys: string[];
  readonly #calls: RedisCalls;

  private constructor(link: RedisLink, options: RedisPresenceOptions) {
    this.#link = link;
    this.#options = options;
    // In a Cluster both keys must share a slot.
    const owners = link.cluster ? `{${options.key}}:owners` : `${options.key}:owners`;
    this.#keys = [options.key, owners];
    this.#calls = new RedisCalls(link, {
      label: "Redis presence",
      timeoutMs: options.commandTimeoutMs ?? 5_000,
    });
  }

  /**
   * Connects to Redis, waiting (with backoff, logging each failure) until it
   * answers. The connection keeps reconnecting afterwards.
   *
   * @throws {RangeError} when `ttlMs` is not a whole number above 0.
   */
  static async connect(options: RedisPresenceOptions): Promise<RedisPresence> {
    if (!(Number.isSafeInteger(options.ttlMs) && options.ttlMs > 0)) {
      throw new RangeError(`presence ttlMs must be a whole number above 0, got ${options.ttlMs}`);
    }
    const link = await RedisLink.connect({
      redis: options.redis,
      role: "presence",
      logger: options.logger,
    });
    return new RedisPresence(link, options);
  }

  /** @throws {StoreUnavailableError} */
  async claim(user: string, owner: string, tokenHash?: string): Promise<boolean> {
    const reply = await this.#calls.script(CLAIM, this.#keys, [
      foldName(user),
      owner,
      claimValue({ user, owner, tokenHash }),
      String(this.#options.ttlMs),
    ]);
    return reply === 1;
  }

  /** @throws {StoreUnavailableError} */
  async takeOver(
    user: string,
    owner: string,
    presentedHash: string,
    tokenHash: string,
  ): Promise<TakeOverResult> {
    const reply = await this.#calls.script(TAKE_OVER, this.#keys, [
      foldName(user),
      owner,
      claimValue({ user, owner, tokenHash }),
      String(this.#options.ttlMs),
      presentedHash,
    ]);
    return reply === 2 ? "taken_back" : reply === 1 ? "claimed" : "held";
  }

  /** @throws {StoreUnavailableError} (the claim then expires on its own) */
  async release(user: string, owner: string): Promise<void> {
    await this.#calls.script(RELEASE, this.#keys, [foldName(user), owner]);
  }

  /** @throws {StoreUnavailableError} */
  async list(): Promise<string[]> {
    const flat = await this.#calls.script(LIST, this.#keys, []) as string[];
    const entries: Array<{ key: string; name: string }> = [];
    for (let i = 0; i < flat.length; i += 2) {
      entries.push({ key: flat[i], name: displayName(flat[i], flat[i + 1]) });
    }
    return sortNames(entries);
  }

  /** @throws {StoreUnavailableError} */
  async refresh(claims: ReadonlyArray<Claim>): Promise<string[]> {
    const lost: string[] = [];
    for (let start = 0; start < claims.length; start += REFRESH_BATCH) {
      const batch = claims.slice(start, start + REFRESH_BATCH);
      const args = [String(this.#options.ttlMs)];
      for (const claim of batch) args.push(foldName(claim.user), claim.owner, claimValue(claim));
      const positions = await this.#calls.script(REFRESH, this.#keys, args) as number[];
      for (const position of positions) lost.push(batch[position].user);
    }
    return lost;
  }

  async close(): Promise<void> {
    await this.#link.close();
  }
}

/** The hash value of a claim: its owner, the name as typed and the token's hash, if any. */
function claimValue({ user, owner, tokenHash }: Claim): string {
  return JSON.stringify(
    tokenHash === undefined ? { owner, name: user } : { owner, name: user, token: tokenHash },
  );
}

/** The display name in a hash value, or the folded name if the value is missing or not ours. */
function displayName(key: string, raw: string): string {
  try {
    const value = JSON.parse(raw);
    if (typeof value?.name === "string") return value.name;
  } catch {
    // Written by someone else: fall through to the key.
  }
  return key;
}
