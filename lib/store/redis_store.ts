/**
 * The Redis store: history in a Redis list, fan-out over Redis Pub/Sub, so
 * that any number of server replicas share one room.
 *
 * Keys, given the history key `K` (default `chat_history`, the old service's
 * list): `K` is the list, appended with RPUSH as before; `{K}:seq` is the id
 * counter, named with `K` as hash tag so that a Redis Cluster keeps every key
 * of one history in one slot, like `{K}:epoch`, the history's epoch
 * (`redis_epoch.ts`). The Pub/Sub
 * channel is `K:events` (PUBLISH, as older replicas use), or `{K}:events`
 * with sharded Pub/Sub (SPUBLISH) in a Cluster. One Lua script assigns the
 * ids, appends, trims and publishes, so list order, id order and publish order
 * are the same. Appends are group-committed (`append_batcher.ts`): a batch is
 * one script call and one Pub/Sub payload with one event per line. Entries that are not this service's JSON (the old service's
 * `[user]: text` strings) are replayed as they are.
 *
 * The counter used to be `K:seq`. At start it is merged into `{K}:seq` and
 * deleted; while older replicas still write `K:seq` (a rolling update), the
 * append script keeps both counters in step so no id is issued twice.
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

import { RedisCalls, type RedisConfig, RedisLink } from "./redis_connection.ts";
import { AppendBatcher } from "./append_batcher.ts";
import type { LogFields, Logger } from "../ops/log.ts";
import { sleep } from "../util/deadline.ts";
import { APPEND, HISTORY, MIGRATE, RAISE, SINCE } from "./history_scripts.ts";
import { ENSURE_EPOCH, epochKey, newEpoch } from "./redis_epoch.ts";
import type { HistorySnapshot, Store, StoreMetrics } from "./store.ts";
import {
  type ChatEvent,
  type ChatMessage,
  type NewMessage,
  type Notice,
  parseEntry,
} from "../protocol/model.ts";
import { parseEvent } from "./pubsub_event.ts";
import { ReplicaAck } from "./replica_ack.ts";

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

/** History and fan-out in Redis. Create it with {@linkcode RedisStore.connect}. */
export class RedisStore implements Store {
  readonly description: string;
  readonly #commands: RedisLink;
  readonly #subscriber: RedisLink;
  readonly #options: RedisStoreOptions;
  readonly #keys: { list: string; seq: string; oldSeq: string; epoch: string; channel: string };
  readonly #calls: RedisCalls;
  readonly #batcher: AppendBatcher;
  readonly #replicas: ReplicaAck;
  #listener: ((event: ChatEvent) => void) | null = null;
  #lastId = 0;
  #catchingUp = false;
  #subscribed = false;
  #backlog: ChatEvent[] = [];
  /** Aborted by {@linkcode close}, ending any wait for Redis in progress. */
  readonly #closing = new AbortController();

  private constructor(commands: RedisLink, subscriber: RedisLink, options: RedisStoreOptions) {
    this.#commands = commands;
    this.#subscriber = subscriber;
    this.#options = options;
    const timeoutMs = options.commandTimeoutMs ?? 5_000;
    this.#calls = new RedisCalls(commands, {
      label: "Redis",
      timeoutMs,
      onError: () => options.metrics?.storeErrors.inc(),
    });
    this.#replicas = new ReplicaAck({
      wanted: options.redis.minReplicasAck ?? 0,
      timeoutMs: Math.max(1, Math.floor(timeoutMs / 2)),
      sendWait: async (args) => Number(await this.#calls.send(this.#keys.list, args)),
      deliver: (event) => this.#catchingUp ? this.#backlog.push(event) : this.#accept(event),
    });
    // A second batch may go out before the first is answered only where Redis runs them as
    // sent, and not while events wait for a batch's replicas.
    const maxInFlight = commands.direct && !this.#replicas.enabled ? 2 : 1;
    this.#batcher = new AppendBatcher((batch) => this.#commit(batch), { maxInFlight });
    const key = options.historyKey;
    this.#keys = {
      list: key,
      seq: `{${key}}:seq`,
      oldSeq: `${key}:seq`,
      epoch: epochKey(key),
      channel: commands.cluster ? `{${key}}:events` : `${key}:events`,
    };
    this.description = `Redis at ${options.redis.url}, list "${key}"`;
  }

  /**
   * Connects to Redis, waiting (with backoff, logging each failure) until it
   * answers, and moves an old `K:seq` counter to `{K}:seq`. Resolves with a
   * store whose connections keep reconnecting.
   */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const { redis, logger, metrics } = options;
    // Set once the store exists; reconnects before that have nothing to catch up.
    let catchUp = () => {};
    const [commands, subscriber] = await Promise.all([
      // One outage counts once, on the command connection.
      RedisLink.connect({
        redis,
        role: "command",
        logger,
        onRestored: () => metrics?.storeReconnects.inc(),
        onFailover: () => metrics?.storeFailovers?.inc(),
      }),
      // Every reconnect may have missed messages.
      RedisLink.connect({
        redis,
        role: "subscriber",
        logger,
        onRestored: () => catchUp(),
      }),
    ]);
    const store = new RedisStore(commands, subscriber, options);
    catchUp = () => void store.#catchUp();
    try {
      await store.#migrate();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  get connected(): boolean {
    return this.#commands.ready && this.#subscriber.ready;
  }

  append(message: NewMessage): Promise<ChatMessage> {
    return this.#batcher.append(message);
  }

  /** Stores `batch` with one script call; see {@linkcode AppendBatcher}. */
  async #commit(batch: readonly NewMessage[]): Promise<ChatMessage[]> {
    const stored: Omit<ChatMessage, "id">[] = [];
    const args = [
      this.#keys.channel,
      String(this.#options.historyLimit),
      String(this.#lastId),
      this.#commands.cluster ? "SPUBLISH" : "PUBLISH",
    ];
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
    const keys = [this.#keys.list, this.#keys.seq, this.#keys.epoch];
    if (!this.#commands.cluster) keys.push(this.#keys.oldSeq);
    // EVAL, not EVALSHA: a batch refused for a missing script must not be
    // stored after the batch sent behind it.
    const append = async () => Number(await this.#calls.evaluate(APPEND, keys, args));
    const first = await this.#replicas.confirm(batch, append);
    return stored.map((fields, index) => ({ id: first + index, ...fields }));
  }

  async publish(notice: Notice): Promise<void> {
    const command = this.#commands.cluster ? "SPUBLISH" : "PUBLISH";
    const { channel } = this.#keys;
    await this.#calls.send(channel, [command, channel, JSON.stringify(notice)]);
  }

  async history(limit: number): Promise<HistorySnapshot> {
    const { list, seq, epoch } = this.#keys;
    const range = limit > 0 ? [String(-limit), "-1"] : ["1", "0"];
    const read = async () => {
      const [counter, raw, current] = await this.#calls.script(
        HISTORY,
        [list, seq, epoch],
        range,
      ) as [string, string[], string];
      const entries = raw.map(parseEntry);
      let lastId = Number(counter);
      for (const entry of entries) {
        if (entry.type === "message" && entry.id > lastId) lastId = entry.id;
      }
      // Sound: a counter behind its list or what was delivered has lost history.
      const sound = counter !== "" && Number(counter) >= Math.max(lastId, this.#lastId);
      return { entries, lastId, epoch: sound && current !== "" ? current : null };
    };
    const snapshot = await read();
    if (snapshot.epoch !== null) return { ...snapshot, epoch: snapshot.epoch };
    const made = await this.#calls.script(ENSURE_EPOCH, [list, seq, epoch], [
      newEpoch(),
      String(this.#lastId),
    ]) as string;
    const again = await read();
    return { ...again, epoch: again.epoch ?? made };
  }

  async subscribe(listener: (event: ChatEvent) => void): Promise<void> {
    this.#listener = listener;
    this.#catchingUp = true;
    await this.#subscriber.subscribe(this.#keys.channel, (raw) => this.#receive(raw));
    try {
      const seq = await this.#calls.send<string | null>(this.#keys.seq, ["GET", this.#keys.seq]);
      this.#lastId = Number(seq ?? 0);
    } finally {
      this.#subscribed = true;
      this.#drainBacklog();
    }
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#listener = null;
    await Promise.all([this.#commands.close(), this.#subscriber.close()]);
  }

  /**
   * Moves the counter from `K:seq` (older versions) to `{K}:seq`, keeping the
   * higher count, so replicas starting together all end with one counter.
   * In a Cluster the two keys may be on different nodes, so it is three
   * steps there; each is safe to repeat.
   */
  async #migrate(): Promise<void> {
    const { seq, oldSeq } = this.#keys;
    if (!this.#commands.cluster) {
      if (await this.#calls.script(MIGRATE, [oldSeq, seq], []) === 1) {
        this.#options.logger.info("moved the id counter to its new key", {
          ...this.#logFields("command"),
          from: oldSeq,
          to: seq,
        });
      }
      return;
    }
    const old = await this.#calls.send<string | null>(oldSeq, ["GET", oldSeq]);
    if (old === null) return;
    await this.#calls.script(RAISE, [seq], [old]);
    await this.#calls.send(oldSeq, ["DEL", oldSeq]);
    this.#options.logger.info("moved the id counter to its new key", { from: oldSeq, to: seq });
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
    this.#replicas.offer(event);
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
    } else {
      // An id already seen: the counter may have gone back in a failover.
      void this.#catchUp();
    }
  }

  /**
   * The entries after id `from`. The subscriber may be back before the
   * command connection is, so this retries until the command timeout; new
   * events meanwhile wait in the backlog, so nothing is delivered out of order.
   */
  async #readSince(from: number): Promise<[number, string[]]> {
    const deadline = Date.now() + (this.#options.commandTimeoutMs ?? 5_000);
    while (true) {
      try {
        const [seq, raw] = await this.#calls.script(SINCE, [this.#keys.list, this.#keys.seq], [
          String(from),
        ]) as [number, string[]];
        return [Number(seq), raw];
      } catch (error) {
        if (this.#closing.signal.aborted || Date.now() >= deadline) throw error;
        await sleep(100, this.#closing.signal);
      }
    }
  }

  async #catchUp(): Promise<void> {
    if (this.#catchingUp || this.#closing.signal.aborted || !this.#subscribed) return;
    this.#catchingUp = true;
    const from = this.#lastId;
    try {
      const [seq, raw] = await this.#readSince(from);
      if (seq < this.#lastId) {
        // A failover lost the newest writes: ids from seq + 1 will be issued
        // again, and must not be taken for duplicates.
        this.#options.logger.warn("the id counter went back after a failover", {
          ...this.#logFields("command"),
          from: this.#lastId,
          to: seq,
        });
        this.#lastId = seq;
      }
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
