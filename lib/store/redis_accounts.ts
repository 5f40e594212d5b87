/**
 * Accounts in Redis, shared by every replica: one hash `{K}:accounts`
 * (`K` the history key, as hash tag, so it lives in the history's slot),
 * field = folded name, value = the record as JSON. Changes are Lua scripts
 * that compare the stored value first, so two replicas cannot both win.
 *
 * @module
 */

import { type Accounts, parseRecord, type PasswordRecord, recordText } from "./accounts.ts";
import type { Logger } from "../ops/log.ts";
import { foldName } from "./presence.ts";
import { RedisCalls, type RedisConfig, RedisLink } from "./redis_connection.ts";

/** Options for {@linkcode RedisAccounts.connect}. */
export interface RedisAccountsOptions {
  redis: RedisConfig;
  /** The history key; the hash is `{historyKey}:accounts`. */
  historyKey: string;
  logger: Logger;
  /** Longest wait for one Redis command, in milliseconds. Defaults to 5 s. */
  commandTimeoutMs?: number;
}

// KEYS: hash. ARGV: field, expected value, new value ('' removes).
const COMPARE_AND_SET = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`;

/** Registered names in Redis. */
export class RedisAccounts implements Accounts {
  readonly #link: RedisLink;
  readonly #calls: RedisCalls;
  readonly #key: string;

  private constructor(link: RedisLink, options: RedisAccountsOptions) {
    this.#link = link;
    this.#key = `{${options.historyKey}}:accounts`;
    this.#calls = new RedisCalls(link, {
      label: "Redis accounts",
      timeoutMs: options.commandTimeoutMs ?? 5_000,
    });
  }

  /** Connects, waiting (with backoff, logging each failure) until Redis answers. */
  static async connect(options: RedisAccountsOptions): Promise<RedisAccounts> {
    const link = await RedisLink.connect({
      redis: options.redis,
      role: "accounts",
      logger: options.logger,
    });
    return new RedisAccounts(link, options);
  }

  /** @throws {StoreUnavailableError} */
  async get(name: string): Promise<PasswordRecord | null> {
    const text = await this.#calls.send(this.#key, ["HGET", this.#key, foldName(name)]);
    return typeof text === "string" ? parseRecord(text) : null;
  }

  /** @throws {StoreUnavailableError} */
  async create(name: string, record: PasswordRecord): Promise<boolean> {
    const added = await this.#calls.send(this.#key, [
      "HSETNX",
      this.#key,
      foldName(name),
      recordText(record),
    ]);
    return Number(added) === 1;
  }

  /** @throws {StoreUnavailableError} */
  replace(name: string, expected: PasswordRecord, record: PasswordRecord): Promise<boolean> {
    return this.#compareAndSet(name, expected, recordText(record));
  }

  /** @throws {StoreUnavailableError} */
  remove(name: string, expected: PasswordRecord): Promise<boolean> {
    return this.#compareAndSet(name, expected, "");
  }

  async close(): Promise<void> {
    await this.#link.close();
  }

  async #compareAndSet(name: string, expected: PasswordRecord, value: string): Promise<boolean> {
    const reply = await this.#calls.script(COMPARE_AND_SET, [this.#key], [
      foldName(name),
      recordText(expected),
      value,
    ]);
    return reply === 1;
  }
}
