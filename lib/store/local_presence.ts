/**
 * Presence in this process's memory, for a single replica (the embedded
 * store's deployment). Claims expire only when a ttl is given; no I/O.
 *
 * @module
 */

import { type Claim, foldName, type Presence, sortNames, type TakeOverResult } from "./presence.ts";

/** Options for {@linkcode LocalPresence}. */
export interface LocalPresenceOptions {
  /**
   * Milliseconds a claim lives without a refresh. Defaults to `Infinity`:
   * within one process, a claim can only outlive its connection by a bug.
   */
  ttlMs?: number;
}

interface Held {
  owner: string;
  name: string;
  expires: number;
  tokenHash?: string;
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
  readonly #claims = new Map<string, Held>();

  /** @throws {RangeError} when `ttlMs` is not above 0. */
  constructor(options: LocalPresenceOptions = {}) {
    const ttlMs = options.ttlMs ?? Infinity;
    if (!(ttlMs > 0)) throw new RangeError(`presence ttlMs must be above 0, got ${ttlMs}`);
    this.#ttlMs = ttlMs;
  }

  claim(user: string, owner: string, tokenHash?: string): Promise<boolean> {
    const now = this.#sweep();
    const key = foldName(user);
    const held = this.#claims.get(key);
    if (held && held.owner !== owner) return Promise.resolve(false);
    this.#claims.set(key, { owner, name: user, expires: now + this.#ttlMs, tokenHash });
    return Promise.resolve(true);
  }

  takeOver(
    user: string,
    owner: string,
    presentedHash: string,
    tokenHash: string,
  ): Promise<TakeOverResult> {
    const now = this.#sweep();
    const key = foldName(user);
    const held = this.#claims.get(key);
    const result = !held || held.owner === owner
      ? "claimed"
      : held.tokenHash === presentedHash
      ? "taken_back"
      : "held";
    if (result !== "held") {
      this.#claims.set(key, { owner, name: user, expires: now + this.#ttlMs, tokenHash });
    }
    return Promise.resolve(result);
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
    for (const { user, owner, tokenHash } of claims) {
      const key = foldName(user);
      const held = this.#claims.get(key);
      if (held && held.owner !== owner) {
        lost.push(user);
      } else {
        const name = held?.name ?? user;
        this.#claims.set(key, { owner, name, expires: now + this.#ttlMs, tokenHash });
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
    // Without a TTL nothing expires; a sweep per claim would make a join storm quadratic.
    if (this.#ttlMs === Infinity) return now;
    this.#claims.forEach((held, key) => {
      if (held.expires <= now) this.#claims.delete(key);
    });
    return now;
  }
}
