/**
 * The Redis store: history in a Redis list, fan-out over Redis Pub/Sub, so
 * that any number of server replicas share one room.
 *
 * Keys, given the history key `K` (default `chat_history`, the old service's
 * list): `K` is the list, appended with RPUSH as before; `K:seq` is the id
 * counter; `K:events` is the Pub/Sub channel. One Lua script assigns the
 * ids, appends, trims and publishes, so list order, id order and publish
 * order are the same. Appends are group-committed (`append_batcher.ts`): a
 * batch is one script call and one Pub/Sub payload with one event per line.
 * Entries that are not this service's JSON (the old service's
 * `[user]: text` strings) are replayed as they are.
 *
 * The subscription delivers messages in id order with none missing: after a
 * dropped connection, or whenever an id is skipped, the missing messages are
 * read back from the list before anything newer is delivered.
 *
 * This module does not fall back to another store and does not decide what
 * clients see; it reports {@linkcode StoreUnavailableError} and reconnects.
 *
 * @module
 */

import {
  createRedisClient,
  RedisCalls,
  type RedisClient,
  type RedisConfig,
} from "./redis_connection.ts";
import { AppendBatcher } from "./append_batcher.ts";
import type { LogFields, Logger } from "../ops/log.ts";
import { sleep } from "../util/deadline.ts";
import { type HistorySnapshot, type Store, type StoreMetrics } from "./store.ts";
import {
  type ChatEvent,
  type ChatMessage,
  type NewMessage,
  type Notice,
  parseEntry,
  toChatMessage,
} from "../protocol/model.ts";

/** Options for {@linkcode RedisStore.connect}. */
export interface RedisStoreOptions {
  redis: RedisConfig;
  /** Name of the history list. */
  historyKey: string;
  /** How many messages the list keeps. */
  historyLimit: number;
  logger: Logger;
  /** Where failures and reconnects are counted. */
  metrics?: StoreMetrics;
  /** Longest wait for one Redis command, in milliseconds. Defaults to 5 s. */
  commandTimeoutMs?: number;
}

// KEYS: list, counter. ARGV: channel, retention, then for each message its
// fields as JSON without the opening brace and its origin as a JSON string.
// Appends a batch under consecutive ids and publishes it as one payload, its
// events one per line (a batch of one is exactly the single event). Returns
// the first id.
const APPEND = `
local count = (#ARGV - 2) / 2
local first = redis.call('INCRBY', KEYS[2], count) - count + 1
if first == 1 then
  -- A lost or new counter must never reissue ids still in the list.
  local last = redis.call('LINDEX', KEYS[1], -1)
  if last then
    local ok, entry = pcall(cjson.decode, last)
    if ok and type(entry) == 'table' and type(entry.id) == 'number' and entry.id >= first then
      first = entry.id + 1
      redis.call('SET', KEYS[2], first + count - 1)
    end
  end
end
local entries, events = {}, {}
for i = 1, count do
  local id = first + i - 1
  local fields = ARGV[1 + 2 * i]
  entries[i] = '{"id":' .. id .. ',' .. fields
  events[i] = '{"type":"message","origin":' .. ARGV[2 + 2 * i] .. ',"id":' .. id .. ',' .. fields
end
-- RPUSH in pieces: unpack() is bounded by the Lua stack.
for i = 1, count, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(entries, i, math.min(i + 999, count)))
end
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PUBLISH', ARGV[1], table.concat(events, '\\n'))
return first
`;

// KEYS: list, counter. ARGV: the last id already delivered. Returns the
// counter and every entry newer than that id (ids are consecutive at the tail).
const SINCE = `
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local count = seq - tonumber(ARGV[1])
if count <= 0 then return {seq, {}} end
return {seq, redis.call('LRANGE', KEYS[1], -count, -1)}
`;

/** History and fan-out in Redis. Create it with {@linkcode RedisStore.connect}. */
export class RedisStore implements Store {
  readonly description: string;
  readonly #commands: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #options: RedisStoreOptions;
  readonly #keys: { list: string; seq: string; channel: string };
  readonly #calls: RedisCalls;
  readonly #batcher = new AppendBatcher((batch) => this.#commit(batch));
  #listener: ((event: ChatEvent) => void) | null = null;
  #lastId = 0;
  #catchingUp = false;
  #backlog: ChatEvent[] = [];
  /** Aborted by {@linkcode close}, ending any wait for Redis in progress. */
  readonly #closing = new AbortController();

  private constructor(commands: RedisClient, subscriber: RedisClient, options: RedisStoreOptions) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#options = options;
    this.#calls = new RedisCalls(commands, {
      label: "Redis",
      timeoutMs: options.commandTimeoutMs ?? 5_000,
      onError: () => options.metrics?.storeErrors.inc(),
    });
    const key = options.historyKey;
    this.#keys = { list: key, seq: `${key}:seq`, channel: `${key}:events` };
    this.description = `Redis at ${options.redis.url}, list "${key}"`;
  }

  /**
   * Connects to Redis, waiting (with backoff, logging each failure) until it
   * answers. Resolves with a store whose connections keep reconnecting.
   */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const make = (role: string, onRestored?: () => void) =>
      createRedisClient({ redis: options.redis, role, logger: options.logger, onRestored });
    // One outage counts once, on the command connection.
    const commands = make("command", () => options.metrics?.storeReconnects.inc());
    const subscriber = make("subscriber");
    await Promise.all([commands.connect(), subscriber.connect()]);
    return new RedisStore(commands, subscriber, options);
  }

  get connected(): boolean {
    return this.#commands.isReady && this.#subscriber.isReady;
  }

  append(message: NewMessage): Promise<ChatMessage> {
    return this.#batcher.append(message);
  }

  /** Stores `batch` with one script call; see {@linkcode AppendBatcher}. */
  async #commit(batch: readonly NewMessage[]): Promise<ChatMessage[]> {
    const stored: Omit<ChatMessage, "id">[] = [];
    const args = [this.#keys.channel, String(this.#options.historyLimit)];
    for (const message of batch) {
      const fields: Omit<ChatMessage, "id"> = {
        user: message.user,
        text: message.text,
        ts: message.ts,
      };
      if (message.ref !== undefined) fields.ref = message.ref;
      stored.push(fields);
      args.push(JSON.stringify(fields).slice(1), JSON.stringify(message.origin));
    }
    const first = Number(
      await this.#calls.script(APPEND, [this.#keys.list, this.#keys.seq], args),
    );
    return stored.map((fields, index) => ({ id: first + index, ...fields }));
  }

  async publish(notice: Notice): Promise<void> {
    await this.#calls.call(() =>
      this.#commands.publish(this.#keys.channel, JSON.stringify(notice))
    );
  }

  async history(limit: number): Promise<HistorySnapshot> {
    const [seq, raw] = await this.#calls.call(() =>
      this.#commands.multi()
        .get(this.#keys.seq)
        .lRange(this.#keys.list, limit > 0 ? -limit : 1, limit > 0 ? -1 : 0)
        .exec()
    ) as unknown as [string | null, string[]];
    const entries = raw.map(parseEntry);
    let lastId = Number(seq ?? 0);
    for (const entry of entries) {
      if (entry.type === "message" && entry.id > lastId) lastId = entry.id;
    }
    return { entries, lastId };
  }

  async subscribe(listener: (event: ChatEvent) => void): Promise<void> {
    this.#listener = listener;
    this.#catchingUp = true;
    await this.#subscriber.subscribe(this.#keys.channel, (raw) => this.#receive(raw));
    try {
      const seq = await this.#calls.call(() => this.#commands.get(this.#keys.seq));
      this.#lastId = Number(seq ?? 0);
    } finally {
      this.#drainBacklog();
    }
    // Every reconnect after this one may have missed messages.
    this.#subscriber.on("ready", () => void this.#catchUp());
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#listener = null;
    await Promise.all([this.#commands, this.#subscriber].map(async (client) => {
      try {
        await client.close();
      } catch {
        client.destroy();
      }
    }));
  }

  /** One Pub/Sub payload: an event, or a batch of them one per line (JSON holds no raw line break). */
  #receive(payload: string): void {
    if (!payload.includes("\n")) return this.#receiveOne(payload);
    for (const raw of payload.split("\n")) this.#receiveOne(raw);
  }

  #receiveOne(raw: string): void {
    const event = parseEvent(raw);
    if (!event) {
      // The event itself may carry message text, so it is not logged.
      this.#options.logger.warn("ignored a malformed Redis event", {
        ...this.#logFields("subscriber"),
        channel: this.#keys.channel,
        reason: "not a chat event",
      });
      return;
    }
    if (this.#catchingUp) this.#backlog.push(event);
    else this.#accept(event);
  }

  #accept(event: ChatEvent): void {
    if (event.type !== "message") {
      this.#listener?.(event);
    } else if (event.id === this.#lastId + 1) {
      this.#lastId = event.id;
      this.#listener?.(event);
    } else if (event.id > this.#lastId) {
      this.#backlog.push(event);
      void this.#catchUp();
    }
  }

  /**
   * The entries after id `from`. The subscriber may be back before the
   * command connection is, so this retries until the command timeout; new
   * events meanwhile wait in the backlog, so nothing is delivered out of order.
   */
  async #readSince(from: number): Promise<string[]> {
    const deadline = Date.now() + (this.#options.commandTimeoutMs ?? 5_000);
    while (true) {
      try {
        const [, raw] = await this.#calls.script(SINCE, [this.#keys.list, this.#keys.seq], [
          String(from),
        ]) as [number, string[]];
        return raw;
      } catch (error) {
        if (this.#closing.signal.aborted || Date.now() >= deadline) throw error;
        await sleep(100, this.#closing.signal);
      }
    }
  }

  async #catchUp(): Promise<void> {
    if (this.#catchingUp || this.#closing.signal.aborted) return;
    this.#catchingUp = true;
    const from = this.#lastId;
    try {
      const raw = await this.#readSince(from);
      for (const entry of raw.map(parseEntry)) {
        if (entry.type !== "message" || entry.id <= this.#lastId) continue;
        if (entry.id !== this.#lastId + 1) {
          this.#options.logger.warn("messages were trimmed before they could be delivered live", {
            ...this.#logFields("command"),
            first: this.#lastId + 1,
            last: entry.id - 1,
            reason: "trimmed",
          });
        }
        this.#lastId = entry.id;
        // The origin is not stored, so a text-mode sender may see its own
        // message once here; that beats anyone missing it.
        const { type: _, ...message } = entry;
        this.#listener?.({ type: "message", origin: "", ...message });
      }
    } catch (error) {
      const first = this.#backlog.find((event) => event.type === "message");
      this.#options.logger.error("could not read back missed messages", {
        ...this.#logFields("command"),
        after: from,
        reason: (error as Error).message,
      });
      // Deliver what did arrive rather than hold it forever.
      if (first?.type === "message") this.#lastId = Math.max(this.#lastId, first.id - 1);
    } finally {
      this.#drainBacklog();
    }
  }

  /** The fields every log line of this store carries: the URL holds no credentials. */
  #logFields(role: string): LogFields {
    return { role, url: this.#options.redis.url, key: this.#keys.list };
  }

  #drainBacklog(): void {
    this.#catchingUp = false;
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const [index, event] of backlog.entries()) {
      if (this.#catchingUp) {
        this.#backlog.push(...backlog.slice(index));
        return;
      }
      this.#accept(event);
    }
  }
}

/** A Pub/Sub event, or `null` when it is not one of ours. */
function parseEvent(raw: string): ChatEvent | null {
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value?.origin !== "string") return null;
  const origin: string = value.origin;
  if (value.type === "message") {
    const message = toChatMessage(value);
    return message && { type: "message", origin, ...message };
  }
  if (
    (value.type === "join" || value.type === "leave") && typeof value.user === "string" &&
    typeof value.ts === "number" && Number.isFinite(value.ts)
  ) {
    return { type: value.type, user: value.user, ts: value.ts, origin };
  }
  return null;
}
