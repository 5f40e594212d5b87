/**
 * What every Redis connection of the server has in common: how it reaches
 * Redis (one server, a master found through Sentinel, or a Cluster), how it
 * connects and reconnects (backoff with jitter, each failure logged, no
 * hidden offline queue), and how a call is bounded in time and turned into a
 * {@linkcode StoreUnavailableError} when Redis cannot answer.
 *
 * It knows no keys and no data layout; `redis_store.ts` and `redis_presence.ts` do.
 * It never retries a command that may have run: after a lost connection the
 * caller hears that the outcome is unknown.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createClient, createCluster, createSentinel } from "redis";
import type { Logger } from "../ops/log.ts";
import { backoffDelay, type BackoffOptions } from "../util/backoff.ts";
import { EXPIRED, sleep, within } from "../util/deadline.ts";
import { StoreUnavailableError } from "./store.ts";

/** A Redis server's address. */
export interface RedisNode {
  host: string;
  port: number;
}

/** Where and how to reach Redis. The password is never logged. */
export interface RedisConfig {
  /**
   * `redis://` or `rediss://` URL, without credentials. With Sentinel or
   * Cluster it only names the deployment in log lines.
   */
  url: string;
  username?: string;
  password?: string;
  /** Sentinels to ask for the master named {@linkcode sentinelMaster}. */
  sentinels?: RedisNode[];
  /** The master's name in the Sentinel configuration (default `mymaster`). */
  sentinelMaster?: string;
  /** Seed nodes of a Redis Cluster. */
  clusterNodes?: RedisNode[];
  /** Replicas that must acknowledge each append (`WAIT`); 0 or absent: off. */
  minReplicasAck?: number;
  /** PEM file of the CA that signed Redis's certificate (`rediss://` only); read at connect. */
  caFile?: string;
}

/** Options for {@linkcode RedisLink.connect}. */
export interface RedisLinkOptions {
  redis: RedisConfig;
  /** What the connection is for, in log lines: "command", "subscriber", "presence". */
  role: string;
  logger: Logger;
  /** Called each time the connection is restored after a loss, or moved to a new master. */
  onRestored?: () => void;
  /** Called each time Sentinel reports a new master after the first one. */
  onFailover?: () => void;
}

/** From 50-100 ms after the first failure, doubling up to 2.5-5 s. */
const RECONNECT: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

type Backend = ReturnType<typeof createBackend>;

/**
 * One logical connection to Redis, whatever its topology. In a Cluster,
 * commands are routed by the key given to {@linkcode send}, and Pub/Sub is
 * sharded (`SSUBSCRIBE`), so fan-out stays on the key's shard.
 *
 * @example
 * ```ts
 * const link = await RedisLink.connect({ redis: { url }, role: "command", logger });
 * await link.send("k", ["SET", "k", "v"]);
 * ```
 */
export class RedisLink {
  readonly #backend: Backend;

  private constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Whether Redis is a Cluster (so Pub/Sub is sharded and keys are routed). */
  get cluster(): boolean {
    return this.#backend.kind === "cluster";
  }

  /**
   * Whether commands go out on one connection as they are sent, so Redis
   * runs them in that order; through a Sentinel or a Cluster node-redis may
   * first wait for the node's client.
   */
  get direct(): boolean {
    return this.#backend.kind === "client";
  }

  /**
   * Connects, waiting (with backoff, logging each failure) until Redis
   * answers. The connection keeps reconnecting by itself afterwards.
   */
  static async connect(options: RedisLinkOptions): Promise<RedisLink> {
    const { redis, role, logger } = options;
    for (let attempt = 1;; attempt++) {
      const backend = createBackend(options);
      try {
        await backend.client.connect();
        return new RedisLink(backend);
      } catch (error) {
        backend.client.destroy();
        const delay = Math.round(backoffDelay(attempt, RECONNECT));
        logger.warn("Redis connection failed; retrying", {
          role,
          url: redis.url,
          reason: (error as Error).message,
          retryMs: delay,
        });
        await sleep(delay);
      }
    }
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.#backend.client.isReady;
  }

  /**
   * Sends one command. `key` is the key (or shard channel) it touches, which
   * routes it in a Cluster; it is ignored elsewhere.
   */
  send<T>(key: string | undefined, args: string[]): Promise<T> {
    const backend = this.#backend;
    switch (backend.kind) {
      case "client":
        return backend.client.sendCommand(args) as Promise<T>;
      case "sentinel":
        return backend.client.sendCommand(false, args) as Promise<T>;
      default:
        return backend.client.sendCommand(key, false, args) as Promise<T>;
    }
  }

  /**
   * Delivers every message on `channel` to `listener`: with `SSUBSCRIBE` in a
   * Cluster (on the channel's shard), with `SUBSCRIBE` elsewhere.
   */
  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    const backend = this.#backend;
    if (backend.kind === "cluster") await backend.client.sSubscribe(channel, listener);
    else await backend.client.subscribe(channel, listener);
  }

  /** Closes the connection, dropping it when it cannot close cleanly. */
  async close(): Promise<void> {
    try {
      await this.#backend.client.close();
    } catch {
      this.#backend.client.destroy();
    }
  }
}

/** A node-redis client, Sentinel or Cluster object, by the settings in `options.redis`. */
function createBackend(options: RedisLinkOptions) {
  const { redis, role, logger } = options;
  // A private CA replaces the system's for this connection only.
  const tls = redis.caFile === undefined
    ? {}
    : { tls: true as const, ca: Deno.readTextFileSync(redis.caFile) };
  const socket = {
    ...tls,
    connectTimeout: 5_000,
    // node-redis counts retries from 0; backoffDelay counts attempts from 1.
    reconnectStrategy: (retries: number, cause: Error) => {
      const delay = Math.round(backoffDelay(retries + 1, RECONNECT));
      logger.warn("Redis connection failed; retrying", {
        role,
        url: redis.url,
        reason: cause.message,
        retryMs: delay,
      });
      return delay;
    },
  };
  // Commands fail at once while disconnected: a sender must hear that its
  // message was not stored, not wait in a queue.
  // Each command has one deadline, `RedisCalls`'s. node-redis's own (5 s by default) would
  // leave a timer and an AbortSignal behind every command for its whole span, answered or not.
  const commandOptions = { timeout: 0 };
  const node = {
    username: redis.username,
    password: redis.password,
    disableOfflineQueue: true,
    commandOptions,
    // Redis Enterprise's maintenance notices: unknown to open-source Redis,
    // and their debug switch would read environment variables we do not grant.
    maintNotifications: "disabled" as const,
    socket,
  };
  let ready = false;
  const restored = () => {
    if (ready) {
      logger.info("Redis connection restored", { role, url: redis.url });
      options.onRestored?.();
    }
    ready = true;
  };
  const ignore = () => {
    // Reported once per attempt by the reconnect strategy above.
  };
  if (redis.sentinels?.length) {
    const client = createSentinel({
      name: redis.sentinelMaster ?? "mymaster",
      sentinelRootNodes: redis.sentinels,
      nodeClientOptions: node,
      sentinelClientOptions: { maintNotifications: "disabled", socket },
      commandOptions,
      // Never resend a command whose connection broke: it may have run.
      maxCommandRediscovers: 0,
      scanInterval: 1_000,
    });
    let master: string | undefined;
    client.on("error", ignore);
    client.on("client-error", ignore);
    client.on("ready", restored);
    client.on("topology-change", (event: { type: string; node?: RedisNode }) => {
      if (event.type !== "MASTER_CHANGE" || !event.node) return;
      const now = `${event.node.host}:${event.node.port}`;
      if (master !== undefined && master !== now) {
        logger.warn("Redis connection follows a new master", { role, master: now });
        options.onFailover?.();
      }
      master = now;
    });
    return { kind: "sentinel" as const, client };
  }
  if (redis.clusterNodes?.length) {
    const client = createCluster({
      rootNodes: redis.clusterNodes.map((seed) => ({ socket: { ...seed } })),
      defaults: node,
      commandOptions,
    });
    client.on("error", ignore);
    client.on("node-error", ignore);
    client.on("node-ready", () => {
      if (client.isReady) restored();
    });
    client.on("connect", () => ready = true);
    return { kind: "cluster" as const, client };
  }
  const client = createClient({ url: redis.url, ...node });
  client.on("error", ignore);
  client.on("ready", restored);
  return { kind: "client" as const, client };
}

/** Redis did not answer a call in time; the cause of a {@linkcode StoreUnavailableError}. */
export class CallTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = "CallTimeoutError";
  }
}

/**
 * Runs calls on one link with a deadline, and Lua scripts by their hash
 * (loading them again after Redis lost its script cache).
 *
 * @example
 * ```ts
 * const calls = new RedisCalls(link, { label: "Redis", timeoutMs: 5_000 });
 * const n = await calls.script("return #KEYS", ["a", "b"], []); // 2
 * ```
 */
export class RedisCalls {
  readonly #link: RedisLink;
  readonly #label: string;
  readonly #timeoutMs: number;
  readonly #onError: (() => void) | undefined;
  readonly #shas = new Map<string, string>();

  /**
   * @param options `label` starts error messages; `onError` counts failures.
   */
  constructor(
    link: RedisLink,
    options: { label: string; timeoutMs: number; onError?: () => void },
  ) {
    this.#link = link;
    this.#label = options.label;
    this.#timeoutMs = options.timeoutMs;
    this.#onError = options.onError;
  }

  /**
   * Runs `run`, failing if Redis does not answer within the deadline.
   *
   * @throws {StoreUnavailableError}
   */
  async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      const result = await within(run(), this.#timeoutMs);
      if (result === EXPIRED) throw new CallTimeoutError(this.#timeoutMs);
      return result;
    } catch (error) {
      this.#onError?.();
      throw new StoreUnavailableError(`${this.#label}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Sends one command within the deadline; `key` routes it in a Cluster.
   *
   * @throws {StoreUnavailableError}
   */
  send<T>(key: string | undefined, args: string[]): Promise<T> {
    return this.call(() => this.#link.send<T>(key, args));
  }

  /**
   * Runs a Lua script: with EVAL the first time (which also makes Redis keep
   * it), then with EVALSHA, falling back to EVAL when Redis does not have it
   * (after a restart or SCRIPT FLUSH). In a Cluster every key must be in one
   * slot; the first routes the call.
   *
   * @throws {StoreUnavailableError}
   */
  async script(script: string, keys: string[], args: string[]): Promise<unknown> {
    const sha = this.#shas.get(script);
    if (!sha) {
      // An EVALSHA first would only be refused: one round trip less on a first join. The hash
      // is synchronous, as Web Crypto's digest goes through a thread (0.5-1.4 ms).
      this.#shas.set(script, createHash("sha1").update(script).digest("hex"));
      return await this.evaluate(script, keys, args);
    }
    try {
      return await this.send(keys[0], ["EVALSHA", sha, String(keys.length), ...keys, ...args]);
    } catch (error) {
      if (!String((error as Error).cause ?? "").includes("NOSCRIPT")) throw error;
      return await this.evaluate(script, keys, args);
    }
  }

  /**
   * Runs a Lua script with EVAL, sending its text every time. Calls made one
   * after another run in that order even when Redis has lost its script
   * cache: with {@linkcode script}, an EVALSHA refused for a missing script
   * is sent again, possibly after a later call that found it.
   *
   * @throws {StoreUnavailableError}
   */
  evaluate(script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.send(keys[0], ["EVAL", script, String(keys.length), ...keys, ...args]);
  }
}
