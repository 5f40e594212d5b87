/**
 * Who is online, across replicas: each user name is claimed by one
 * connection at a time, and a claim expires unless its server refreshes it,
 * so the users of a replica that crashed disappear on their own.
 *
 * Names are unique without regard to case or compatibility forms: "Alice",
 * "alice" and "ＡＬＩＣＥ" (fullwidth) are one name (see
 * {@linkcode foldName}). The name as the user typed it is kept for display,
 * and {@linkcode Presence.list} returns those display names.
 *
 * Two implementations: {@linkcode LocalPresence} (one process, for the
 * embedded store) and {@linkcode RedisPresence} (any number of replicas).
 *
 * Redis layout, for key `P` (e.g. `chat_history:presence`):
 *
 * | key        | type       | content                                                     |
 * | ---------- | ---------- | ----------------------------------------------------------- |
 * | `P`        | sorted set | member: folded name; score: expiry, Redis time in ms        |
 * | `P:owners` | hash       | folded name -> `{"owner":"<connection id>","name":"Alice"}` |
 *
 * In a Redis Cluster the hash is `{P}:owners`, so both keys share a slot.
 *
 * Both keys change together in small Lua scripts, which read the clock with
 * Redis `TIME`, so replicas whose clocks disagree cannot expire each other's
 * claims early. Every script first deletes the claims that have expired.
 *
 * This module does not decide what a client is told; failures are
 * `StoreUnavailableError` (`store.ts`), within a deadline, never a hang.
 *
 * @module
 */

import type { Logger } from "../ops/log.ts";
import { RedisCalls, type RedisConfig, RedisLink } from "./redis_connection.ts";

/** One connection's claim on a name. */
export interface Claim {
  /** The name as the user typed it. */
  user: string;
  /** The claiming connection's id, unique across replicas. */
  owner: string;
}

/** The online users of every replica. */
export interface Presence {
  /** Claims `user` for `owner` (a unique per-connection id). False if someone else holds it. */
  claim(user: string, owner: string): Promise<boolean>;
  /** Releases `user` if `owner` still holds it. */
  release(user: string, owner: string): Promise<void>;
  /** Names online on all replicas, sorted. */
  list(): Promise<string[]>;
  /**
   * Extends the expiry of these claims (called periodically by the server
   * for its own users). A claim that expired but that nobody else took is
   * taken back. Returns the users whose claim was lost (expired and taken by
   * someone else).
   */
  refresh(claims: ReadonlyArray<Claim>): Promise<string[]>;
  /** Releases the connection or memory it holds; claims are left to expire. */
  close(): Promise<void>;
}

/**
 * The key under which a name is unique: NFKC-normalised, then upper- and
 * lower-cased, which approximates Unicode's NFKC_Casefold. So "Alice",
 * "ALICE", "ａｌｉｃｅ" (fullwidth) are one name, and so are "STRASSE" and
 * "straße". It does not catch look-alikes from different scripts (Latin "a"
 * and Cyrillic "а" stay different).
 *
 * @example
 * ```ts
 * foldName("Straße") === foldName("STRASSE"); // true
 * ```
 */
export function foldName(name: string): string {
  return name.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

/** Display names sorted by their folded key, in code-unit order (the same on every replica). */
function sortNames(entries: Array<{ key: string; name: string }>): string[] {
  return entries.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0).map((e) => e.name);
}

/** Options for {@linkcode LocalPresence}. */
export interface LocalPresenceOptions {
  /**
   * Milliseconds a claim lives without a refresh. Defaults to `Infinity`:
   * within one process, a claim can only outlive its connection by a bug.
   */
  ttlMs?: number;
}

/**
 * Presence in this process's memory, for a single replica.
 *
 * @example
 * ```ts
 * const presence = new LocalPresence();
 * await presence.claim("alice", "conn-1"); // true
 * await presence.claim("ALICE", "conn-2"); // false
 * ```
 */
export class LocalPresence implements Presence {
  readonly #ttlMs: number;
  readonly #claims = new Map<string, { owner: string; name: string; expires: number }>();

  /** @throws {RangeError} when `ttlMs` is not above 0. */
  constructor(options: LocalPresenceOptions = {}) {
    const ttlMs = options.ttlMs ?? Infinity;
    if (!(ttlMs > 0)) throw new RangeError(`presence ttlMs must be above 0, got ${ttlMs}`);
    this.#ttlMs = ttlMs;
  }

  claim(user: string, owner: string): Promise<boolean> {
    const now = this.#sweep();
    const key = foldName(user);
    const held = this.#claims.get(key);
    if (held && held.owner !== owner) return Promise.resolve(false);
    this.#claims.set(key, { owner, name: user, expires: now + this.#ttlMs });
    return Promise.resolve(true);
  }

  release(user: string, owner: string): Promise<void> {
    const key = foldName(user);
    if (this.#claims.get(key)?.owner === owner) this.#claims.delete(key);
    return Promise.resolve();
  }

  list(): Promise<string[]> {
    this.#sweep();
    return Promise.resolve(
      sortNames([...this.#claims].map(([key, { name }]) => ({ key, name }))),
    );
  }

  refresh(claims: ReadonlyArray<Claim>): Promise<string[]> {
    const now = this.#sweep();
    const lost: string[] = [];
    for (const { user, owner } of claims) {
      const key = foldName(user);
      const held = this.#claims.get(key);
      if (held && held.owner !== owner) {
        lost.push(user);
      } else {
        this.#claims.set(key, { owner, name: held?.name ?? user, expires: now + this.#ttlMs });
      }
    }
    return Promise.resolve(lost);
  }

  close(): Promise<void> {
    this.#claims.clear();
    return Promise.resolve();
  }

  /** Deletes expired claims and returns the current time. */
  #sweep(): number {
    const now = performance.now();
    for (const [key, { expires }] of this.#claims) {
      if (expires <= now) this.#claims.delete(key);
    }
    return now;
  }
}

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
-- The owner holding a folded name, or nil. The sorted set decides whether a
-- claim exists; a hash entry without it, or not in our format, holds nothing.
local function holder(member)
  if not redis.call('ZSCORE', KEYS[1], member) then return nil end
  local raw = redis.call('HGET', KEYS[2], member)
  if not raw then return nil end
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' and type(value.owner) == 'string' then return value.owner end
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
  async claim(user: string, owner: string): Promise<boolean> {
    const reply = await this.#calls.script(CLAIM, this.#keys, [
      foldName(user),
      owner,
      JSON.stringify({ owner, name: user }),
      String(this.#options.ttlMs),
    ]);
    return reply === 1;
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
      for (const { user, owner } of batch) {
        args.push(foldName(user), owner, JSON.stringify({ owner, name: user }));
      }
      const positions = await this.#calls.script(REFRESH, this.#keys, args) as number[];
      for (const position of positions) lost.push(batch[position].user);
    }
    return lost;
  }

  async close(): Promise<void> {
    await this.#link.close();
  }

  /** Runs a script by its SHA-1, loading it when Redis does not know it (yet, or after a restart). */
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
