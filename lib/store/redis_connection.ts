/**
 * What every Redis connection of the server has in common: how it connects
 * and reconnects (backoff with jitter, each failure logged, no hidden offline
 * queue), and how a call is bounded in time and turned into a
 * {@linkcode StoreUnavailableError} when Redis cannot answer.
 *
 * It knows no keys and no data layout; `redis_store.ts` and `redis_presence.ts` do.
 *
 * @module
 */

import { createClient } from "redis";
import type { Logger } from "../ops/log.ts";
import { backoffDelay, type BackoffOptions } from "../util/backoff.ts";
import { EXPIRED, within } from "../util/deadline.ts";
import { StoreUnavailableError } from "./store.ts";

/** Where and how to reach Redis. The password is never logged. */
export interface RedisConfig {
  /** `redis://` or `rediss://` URL, without credentials. */
  url: string;
  username?: string;
  password?: string;
  /** PEM file of the CA that signed Redis's certificate (`rediss://` only); read at connect. */
  caFile?: string;
}

/** A node-redis client. */
export type RedisClient = ReturnType<typeof createClient>;

/** Options for {@linkcode createRedisClient}. */
export interface RedisClientOptions {
  redis: RedisConfig;
  /** What the connection is for, in log lines: "command", "subscriber", "presence". */
  role: string;
  logger: Logger;
  /** Called each time the connection is restored after a loss. */
  onRestored?: () => void;
}

/** From 50-100 ms after the first failure, doubling up to 2.5-5 s. */
const RECONNECT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/**
 * Creates (but does not connect) a client that reconnects forever, waiting
 * up to 5 s between tries. Commands fail at once while it is disconnected:
 * a sender must hear that its message was not stored, not wait in a queue.
 */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  const { redis, role, logger } = options;
  // A private CA replaces the system's for this connection only.
  const tls = redis.caFile === undefined
    ? {}
    : { tls: true as const, ca: Deno.readTextFileSync(redis.caFile) };
  const client = createClient({
    url: redis.url,
    username: redis.username,
    password: redis.password,
    disableOfflineQueue: true,
    socket: {
      ...tls,
      connectTimeout: 5_000,
      // node-redis counts retries from 0; backoffDelay counts attempts from 1.
      reconnectStrategy: (retries: number, cause: Error) => {
        const delay = Math.round(backoffDelay(retries + 1, RECONNECT_BACKOFF));
        logger.warn("Redis connection failed; retrying", {
          role,
          url: redis.url,
          reason: cause.message,
          retryMs: delay,
        });
        return delay;
      },
    },
  });
  let ready = false;
  client.on("error", () => {
    // Reported once per attempt by the reconnect strategy above.
  });
  client.on("ready", () => {
    if (ready) {
      logger.info("Redis connection restored", { role, url: redis.url });
      options.onRestored?.();
    }
    ready = true;
  });
  return client;
}

/** Redis did not answer a call in time; the cause of a {@linkcode StoreUnavailableError}. */
export class CallTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = "CallTimeoutError";
  }
}

/**
 * Runs calls on one client with a deadline, and Lua scripts by their hash
 * (loading them again after Redis lost its script cache).
 *
 * @example
 * ```ts
 * const calls = new RedisCalls(client, { label: "Redis", timeoutMs: 5_000 });
 * const n = await calls.script("return #KEYS", ["a", "b"], []); // 2
 * ```
 */
export class RedisCalls {
  readonly #client: RedisClient;
  readonly #label: string;
  readonly #timeoutMs: number;
  readonly #onError: (() => void) | undefined;
  readonly #shas = new Map<string, string>();

  /**
   * @param options `label` starts error messages; `onError` counts failures.
   */
  constructor(
    client: RedisClient,
    options: { label: string; timeoutMs: number; onError?: () => void },
  ) {
    this.#client = client;
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
   * Runs a Lua script with EVALSHA, falling back to EVAL when Redis does not
   * have it (after a restart or SCRIPT FLUSH).
   *
   * @throws {StoreUnavailableError}
   */
  async script(script: string, keys: string[], args: string[]): Promise<unknown> {
    let sha = this.#shas.get(script);
    if (!sha) {
      const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(script));
      sha = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
      this.#shas.set(script, sha);
    }
    const hash = sha;
    const options = { keys, arguments: args };
    try {
      return await this.call(() => this.#client.evalSha(hash, options));
    } catch (error) {
      if (!String((error as Error).cause ?? "").includes("NOSCRIPT")) throw error;
      return await this.call(() => this.#client.eval(script, options));
    }
  }
}
