/**
 * Slows password guessing down: failed logins are limited per address and
 * per name, with token buckets that refill, so every lock-out ends on its own.
 *
 * The policy, and why it cannot be used to keep an owner out:
 * - Each failed login takes a token from its address's bucket (an IPv6
 *   address counts as its /64). While that bucket is empty, logins from
 *   that address are refused with `auth_throttled`, for every name. Only
 *   an address's own failures drain it, so nobody elsewhere can empty the
 *   owner's.
 * - Each failure also takes a token from the name's bucket, shared by all
 *   addresses: that is what slows an attacker with many addresses. While it
 *   is empty, logins to that name are refused, except from an address that
 *   logged in to that name successfully before (remembered for
 *   {@linkcode KNOWN_ADDRESS_MS}). So an owner coming from a known address
 *   is never locked out by other people's failures; an owner on a new
 *   address waits at most one refill interval after an attack stops.
 * - A success takes nothing. Buckets that are full again are forgotten, so
 *   memory follows the failures of the last minutes; beyond
 *   {@linkcode MAX_ENTRIES} the oldest are dropped.
 *
 * The counts are per replica (in memory): with R replicas behind a load
 * balancer an attacker gets at most R times the rate. It decides nothing
 * about what a client is told, and hashes no passwords.
 *
 * @module
 */

import { TokenBucket } from "./flood_guard.ts";
import { addressGroup, parseAddress } from "../util/cidr.ts";

/** The limits of a {@linkcode LoginThrottle}. */
export interface LoginThrottleOptions {
  /** Failures one address may make at once. Defaults to 5. */
  addressBurst?: number;
  /** Seconds for one more failure to be allowed per address. Defaults to 60. */
  addressIntervalS?: number;
  /** Failures one name may suffer at once, from all addresses. Defaults to 20. */
  nameBurst?: number;
  /** Seconds for one more failure to be allowed per name. Defaults to 30. */
  nameIntervalS?: number;
  /** The clock, in milliseconds; `performance.now()` by default. */
  now?: () => number;
}

/** The answer to "may this address try this name now?". */
export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterMs: number };

/** How long a successful login's address stays exempt from the name's limit. */
export const KNOWN_ADDRESS_MS = 30 * 24 * 3600 * 1000;

/** The most buckets (and known addresses) kept of each kind. */
export const MAX_ENTRIES = 100_000;

/** Failed logins, per address and per name. */
export class LoginThrottle {
  readonly #addresses = new Map<string, TokenBucket>();
  readonly #names = new Map<string, TokenBucket>();
  /** "name address" -> when it last logged in. */
  readonly #known = new Map<string, number>();
  readonly #addressRate: number;
  readonly #addressBurst: number;
  readonly #nameRate: number;
  readonly #nameBurst: number;
  readonly #now: () => number;

  constructor(options: LoginThrottleOptions = {}) {
    this.#addressBurst = options.addressBurst ?? 5;
    this.#addressRate = 1 / (options.addressIntervalS ?? 60);
    this.#nameBurst = options.nameBurst ?? 20;
    this.#nameRate = 1 / (options.nameIntervalS ?? 30);
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Whether a login to `name` (folded) from `address` may be tried now.
   * Checking costs nothing; only {@linkcode failed} takes tokens.
   */
  check(name: string, address: string): ThrottleVerdict {
    const now = this.#now();
    const waits = [this.#wait(this.#addresses, group(address), this.#addressRate, now)];
    if (!this.#isKnown(name, address, now)) {
      waits.push(this.#wait(this.#names, name, this.#nameRate, now));
    }
    const retryAfterMs = Math.max(...waits);
    return retryAfterMs > 0 ? { allowed: false, retryAfterMs } : { allowed: true };
  }

  /** Counts a failed login to `name` from `address`. */
  failed(name: string, address: string): void {
    const now = this.#now();
    this.#bucket(this.#addresses, group(address), this.#addressRate, this.#addressBurst, now)
      .take(now);
    this.#bucket(this.#names, name, this.#nameRate, this.#nameBurst, now).take(now);
  }

  /** Remembers that `address` proved it knows the password of `name`. */
  succeeded(name: string, address: string): void {
    const key = `${name} ${group(address)}`;
    this.#known.delete(key);
    this.#known.set(key, this.#now());
    prune(this.#known);
  }

  /** How many buckets and known addresses are held (to show that memory stays bounded). */
  get size(): number {
    return this.#addresses.size + this.#names.size + this.#known.size;
  }

  #isKnown(name: string, address: string, now: number): boolean {
    const at = this.#known.get(`${name} ${group(address)}`);
    return at !== undefined && now - at < KNOWN_ADDRESS_MS;
  }

  /** Milliseconds until the bucket under `key` holds a whole token; 0 when it does. */
  #wait(buckets: Map<string, TokenBucket>, key: string, rate: number, now: number): number {
    const bucket = buckets.get(key);
    if (!bucket) return 0;
    const level = bucket.level(now);
    if (level >= bucket.burst) buckets.delete(key);
    return level >= 1 ? 0 : Math.ceil(((1 - level) / rate) * 1000);
  }

  #bucket(
    buckets: Map<string, TokenBucket>,
    key: string,
    rate: number,
    burst: number,
    now: number,
  ): TokenBucket {
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(rate, burst, now);
      buckets.set(key, bucket);
      prune(buckets);
    }
    return bucket;
  }
}

/** The key an address is counted under: itself, or its /64 for IPv6. */
function group(address: string): string {
  const value = parseAddress(address);
  return value === null ? address : addressGroup(value, 64).toString(16);
}

function prune(map: Map<string, unknown>): void {
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}
